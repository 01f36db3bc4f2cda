"""The data the live any-painting net is distilled from: the teacher arbitrary-style nets in
onnxruntime, the style vectors of the training paintings (the style bank) and the teacher's paintings
of photo crops (the pairs), both cached in the run folder."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from .settings import DistillSettings
from ..realtime.core.errors import UserError
from ..realtime.core.session import StyleSession

TEACHER_SIZE = 384  # the teacher transform net's fixed input size
STYLE_INPUT_SIZE = 256  # the style-prediction net's input size


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def square_crop(image: np.ndarray, rng: np.random.Generator | None, fraction: float = 1.0) -> np.ndarray:
    """A square crop of ``fraction`` of the shorter side: centred without ``rng``, else at random."""
    h, w = image.shape[:2]
    side = max(1, int(min(h, w) * fraction))
    if rng is None:
        y, x = (h - side) // 2, (w - side) // 2
    else:
        y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
    return image[y:y + side, x:x + side]


class Teacher:
    """The teacher arbitrary-style nets in onnxruntime: painting -> style vector, (photo, vector) -> painted."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        folder = Path(folder)
        self.predict = ort.InferenceSession(str(folder / "arbitrary_predict.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self.transform = ort.InferenceSession(str(folder / "arbitrary_transform.onnx"), options,
                                              providers=["CPUExecutionProvider"])

    def style_vector(self, painting_bgr: np.ndarray) -> np.ndarray:
        """The 100-d style vector of a (square) painting crop."""
        rgb = cv2.resize(painting_bgr, (STYLE_INPUT_SIZE, STYLE_INPUT_SIZE), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        x = (rgb.astype(np.float32) / 255.0)[None]
        return self.predict.run(None, {self.predict.get_inputs()[0].name: x})[0].reshape(-1)

    def paint(self, photo_bgr: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """The teacher's painting of a TEACHER_SIZE square photo crop, uint8 BGR."""
        names = [i.name for i in self.transform.get_inputs()]
        x = (photo_bgr[:, :, ::-1].astype(np.float32) / 255.0)[None]
        vec = vector.reshape(1, 1, 1, -1).astype(np.float32)
        out = self.transform.run(None, {names[0]: x, names[1]: vec})[0][0]
        return np.ascontiguousarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)[:, :, ::-1])


def training_paintings(settings: DistillSettings) -> list[Path]:
    """Every image file in the painting folders, less the held-out ones and the split's validation and test
    paintings, found by content (sorted: reproducible)."""
    from ..realtime.core.images import list_images
    from .painting_split import PaintingSplit

    held = set(settings.held_out)
    kept_out = PaintingSplit.load(settings.split).digests("validation", "test") if settings.split else set()
    files = [p for folder in settings.paintings for p in list_images(Path(folder))
             if p.name not in held and (not kept_out or sha256(p) not in kept_out)]
    return sorted(files, key=lambda p: (p.name, p.as_posix()))


def colour_variant(crop_bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A painting crop with its hue turned, saturation and contrast scaled and the canvas turned or
    mirrored: a plausible other painting, so the style vectors the model learns from fill more of the
    space the style-prediction net maps paintings into (few paintings, many styles to generalise to)."""
    hsv = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(0, 180)) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.6, 1.4), 0, 255)
    out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    out = np.clip((out - out.mean()) * rng.uniform(0.7, 1.3) + out.mean(), 0, 255).astype(np.uint8)
    out = np.rot90(out, int(rng.integers(4)))
    return np.ascontiguousarray(out[:, ::-1] if rng.random() < 0.5 else out)


def build_style_bank(settings: DistillSettings, teacher: Teacher, rng: np.random.Generator) -> dict:
    """Style vectors (and the crops they came from) for every training painting."""
    from ..realtime.core.images import read_image

    vectors, crops, sources = [], [], []
    files = training_paintings(settings)  # once: with a split, every file is hashed to find it
    for index, path in enumerate(files):
        painting = read_image(path)
        for k in range(settings.crops_per_painting + settings.colour_variants):
            crop = square_crop(painting, None) if k == 0 else square_crop(painting, rng, rng.uniform(0.5, 0.9))
            crop = cv2.resize(crop, (settings.gram_size, settings.gram_size), interpolation=cv2.INTER_AREA)
            if k >= settings.crops_per_painting:
                crop = colour_variant(crop, rng)
            vectors.append(teacher.style_vector(crop))
            crops.append(crop)
            sources.append(index)
    paintings = [{"file": p.name, "sha256": sha256(p)} for p in files]
    return {"vectors": np.stack(vectors).astype(np.float32), "crops": np.stack(crops),
            "painting_of_crop": np.array(sources), "paintings": paintings}


def style_net_teachers(folder: str | Path, bank: dict, plain_crops: int) -> dict[int, StyleSession]:
    """Per-style nets (contract-v1 files in ``folder``) by the bank rows they teach: the uncoloured
    crops (the first ``plain_crops`` of each painting) of the painting a net was trained on, matched
    by the file name its training settings record."""
    by_file: dict[str, StyleSession] = {}
    for path in sorted(Path(folder).glob("*.onnx")):
        try:
            session = StyleSession(path, "cpu", threads=1)
        except UserError:  # not a contract model (another runtime's file): teaches nothing
            continue
        style = session.info.settings.get("style")
        if isinstance(style, str):
            by_file[Path(style).name] = session
    sources = bank["painting_of_crop"]
    teachers: dict[int, StyleSession] = {}
    for index, painting in enumerate(bank["paintings"]):
        if painting["file"] in by_file:
            rows = np.flatnonzero(sources == index)[:plain_crops]
            teachers.update({int(row): by_file[painting["file"]] for row in rows})
    return teachers


def random_photo_crop(paths: list[Path], rng: np.random.Generator, size: int) -> np.ndarray:
    from ..realtime.core.images import read_image

    while True:
        image = read_image(paths[int(rng.integers(len(paths)))])
        h, w = image.shape[:2]
        scale = size * rng.uniform(1.0, 1.6) / min(h, w)
        image = cv2.resize(image, (max(size, round(w * scale)), max(size, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
        crop = square_crop(image, rng, size / min(image.shape[:2]))
        if crop.shape[0] == size:
            return crop[:, ::-1] if rng.random() < 0.5 else crop


def build_pairs(settings: DistillSettings, teacher: Teacher, bank: dict, rng: np.random.Generator,
                progress: bool = True) -> dict:
    """``settings.pairs`` photo crops with a style mix each (two crops, weight) and the teacher's painting
    of it; without the paintings when ``settings.teacher_net`` paints the targets during training."""
    from tqdm import tqdm
    from ..realtime.core.images import list_images

    photos = list_images(Path(settings.photos))
    count = len(bank["vectors"])
    inputs, outputs, mixes = [], [], []
    for _ in tqdm(range(settings.pairs), desc="teacher pairs", disable=not progress):
        a, b = int(rng.integers(count)), int(rng.integers(count))
        weight = float(rng.uniform(0.2, 0.8)) if rng.random() < settings.blend_fraction else 1.0
        photo = random_photo_crop(photos, rng, TEACHER_SIZE)
        inputs.append(photo)
        if not settings.teacher_net:
            outputs.append(teacher.paint(photo, weight * bank["vectors"][a] + (1 - weight) * bank["vectors"][b]))
        mixes.append((a, b, weight))
    pairs = {"inputs": np.stack(inputs), "mixes": np.array(mixes, np.float64)}
    return pairs | ({"outputs": np.stack(outputs)} if outputs else {})


def to_tensor(bgr: np.ndarray) -> torch.Tensor:
    """uint8 BGR [N, H, W, 3] -> float RGB NCHW in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(bgr[..., ::-1])).permute(0, 3, 1, 2).float() / 255.0


def pair_mix(pairs: dict, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pairs' style mixes: bank indices a and b and the weight [N, 1] of a."""
    mix = pairs["mixes"][idx]
    return (torch.from_numpy(mix[:, 0].astype(np.int64)), torch.from_numpy(mix[:, 1].astype(np.int64)),
            torch.from_numpy(mix[:, 2].astype(np.float32))[:, None])


def pair_styles(pairs: dict, vectors: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
    """The style vectors (blends included) of the pairs ``idx``."""
    a, b, w = pair_mix(pairs, idx)
    return w * vectors[a] + (1 - w) * vectors[b]


def load_cached(path: Path) -> dict | None:
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def save_style_bank(run: Path, bank: dict) -> None:
    """A run's style bank: its arrays in style_bank.npz, its paintings (file names, SHA-256) in paintings.json."""
    np.savez(run / "style_bank.npz", **{k: v for k, v in bank.items() if k != "paintings"})
    (run / "paintings.json").write_text(json.dumps(bank["paintings"], indent=1))


def run_paintings(run: Path) -> list[dict]:
    """The training paintings (file names, SHA-256) of a run, as its style bank recorded them."""
    return json.loads((Path(run) / "paintings.json").read_text())


def load_style_bank(run: Path) -> dict | None:
    """A run's cached style bank with its paintings, or None when it has none yet."""
    bank = load_cached(run / "style_bank.npz")
    if bank is not None:
        bank["paintings"] = run_paintings(run)
    return bank
