"""Training the live any-painting net (:class:`~export.conditional_net.ConditionalFastNet`).

Two signals, both cheap enough for a 2-core CPU:
- distillation: a teacher arbitrary-style net (Magenta's, Ghiasi et al. 2017, as onnxruntime
  files) paints (photo crop, style vector) pairs once; the student learns to match it (L1);
- the papers' perceptual losses: VGG16 Gram matrices of the student's output against those of the
  painting crop the vector came from (blends: the blend of the Gram matrices), plus content, so the
  student can end closer to the painting than its teacher; against those of the teacher's painting of
  the same crop (its brush texture, which pixel L1 averages away, for every vector the pairs hold);
  and the per-style recipe's temporal and border terms against flicker and bands at the edges.

Style vectors come from the teacher's style-prediction net on several crops of every training
painting (random crops widen what the student sees), and from blends of two. The paintings held out
for evaluation are never read.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import same_layout
from .conditional_net import ConditionalFastNet
from .live_start import load_shipped_live_net
from .losses import build_loss_network, gram_matrix, relative_mse
from .narrowing import least_needed_blocks, narrowed_live_net
from .perceptual import TEMPORAL_NOISE, border_loss, border_margin, temporal_loss
from .safe_load import load_tensors
from .settings import SavedSettings


CHECKPOINT_NAME = "checkpoint.pt"
TEACHER_SIZE = 384  # the teacher transform net's fixed input size
STYLE_INPUT_SIZE = 256  # the style-prediction net's input size
# paintings never used to train the live model: the held-out set its quality is measured on
HELD_OUT_PAINTINGS = ("la_muse.jpg", "vg_wheat_field.jpg", "composition_vii.jpg", "tahiti_guaguin.jpg",
                      "towers_1916.jpg", "Robert_Delaunay_1906_Portrait.jpg", "feathers.jpg", "edtaonisl.jpg")


@dataclass
class DistillSettings(SavedSettings):
    """How the live any-painting net is trained; saved in every checkpoint and the exported model."""

    teacher_dir: str = ""  # folder with arbitrary_predict.onnx and arbitrary_transform.onnx
    paintings: list[str] = field(default_factory=list)  # folders of training paintings
    photos: str = ""  # folder of training photos
    held_out: tuple[str, ...] = HELD_OUT_PAINTINGS
    width: float = 1.0
    residual_blocks: int = 5
    crops_per_painting: int = 6
    colour_variants: int = 0  # extra crops per painting, hue/saturation/contrast-jittered and turned
    pairs: int = 3000
    blend_fraction: float = 0.3
    steps: int = 20000
    batch_size: int = 8
    image_size: int = 192
    lr: float = 2e-3
    l1_weight: float = 1.0
    style_weight: float = 0.0  # VGG16 Gram loss against the painting crop; 0 = distillation only
    teacher_style_weight: float = 0.0  # VGG16 Gram loss against the teacher's painting of the same crop
    content_weight: float = 0.0
    temporal_weight: float = 0.0  # the per-style recipe's term against flicker (small pan plus camera noise)
    border_weight: float = 0.0  # the per-style recipe's term against bands along the frame's edges
    init_from: str = ""  # live-net weights (.npz, as shipped in models/live) to start from; "" = random
    # live-net weights (.npz) to distil a cheaper net from: its paintings of the photo crops replace the
    # teacher pairs' as targets, and the student starts as it, narrowed to this width and block count
    teacher_net: str = ""
    gram_size: int = 256  # painting crops are scaled to this many px for their Gram matrices
    seed: int = 0
    checkpoint_every: int = 100


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
    """Every image file in the painting folders, less the held-out ones (sorted: reproducible)."""
    from ..realtime.images import list_images

    held = set(settings.held_out)
    files = [p for folder in settings.paintings for p in list_images(Path(folder)) if p.name not in held]
    return sorted(files, key=lambda p: p.name)


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
    from ..realtime.images import read_image

    vectors, crops, sources = [], [], []
    for index, path in enumerate(training_paintings(settings)):
        painting = read_image(path)
        for k in range(settings.crops_per_painting + settings.colour_variants):
            crop = square_crop(painting, None) if k == 0 else square_crop(painting, rng, rng.uniform(0.5, 0.9))
            crop = cv2.resize(crop, (settings.gram_size, settings.gram_size), interpolation=cv2.INTER_AREA)
            if k >= settings.crops_per_painting:
                crop = colour_variant(crop, rng)
            vectors.append(teacher.style_vector(crop))
            crops.append(crop)
            sources.append(index)
    paintings = [{"file": p.name, "sha256": sha256(p)} for p in training_paintings(settings)]
    return {"vectors": np.stack(vectors).astype(np.float32), "crops": np.stack(crops),
            "painting_of_crop": np.array(sources), "paintings": paintings}


def random_photo_crop(paths: list[Path], rng: np.random.Generator, size: int) -> np.ndarray:
    from ..realtime.images import read_image

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
    """``settings.pairs`` teacher paintings of photo crops: photo, style mix (two crops, weight), teacher output."""
    from tqdm import tqdm
    from ..realtime.images import list_images

    photos = list_images(Path(settings.photos))
    count = len(bank["vectors"])
    inputs, outputs, mixes = [], [], []
    for _ in tqdm(range(settings.pairs), desc="teacher pairs", disable=not progress):
        a, b = int(rng.integers(count)), int(rng.integers(count))
        weight = float(rng.uniform(0.2, 0.8)) if rng.random() < settings.blend_fraction else 1.0
        vector = weight * bank["vectors"][a] + (1 - weight) * bank["vectors"][b]
        photo = random_photo_crop(photos, rng, TEACHER_SIZE)
        inputs.append(photo)
        outputs.append(teacher.paint(photo, vector))
        mixes.append((a, b, weight))
    return {"inputs": np.stack(inputs), "outputs": np.stack(outputs), "mixes": np.array(mixes, np.float64)}


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


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def distill(settings: DistillSettings, run_dir: str | Path, resume: bool = False, progress: bool = True,
            backbone_weights: str | None = None) -> Path:
    """Train (or resume) the live any-painting net into ``run_dir``; returns the checkpoint path."""
    from tqdm import tqdm

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    ckpt_path = run / CHECKPOINT_NAME
    teacher = Teacher(settings.teacher_dir)

    bank_path = run / "style_bank.npz"
    bank = load_cached(bank_path)
    if bank is None:
        bank = build_style_bank(settings, teacher, rng)
        np.savez(bank_path, **{k: v for k, v in bank.items() if k != "paintings"})
        (run / "paintings.json").write_text(json.dumps(bank["paintings"], indent=1))
    pairs_path = run / "pairs.npz"
    pairs = load_cached(pairs_path)
    if pairs is None:
        pairs = build_pairs(settings, teacher, bank, rng, progress)
        np.savez(pairs_path, **pairs)

    net = ConditionalFastNet(width=settings.width, residual_blocks=settings.residual_blocks)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    step, seconds, history = 0, 0.0, []
    resuming = resume and ckpt_path.is_file()
    vectors = torch.from_numpy(bank["vectors"])
    teacher_net = load_shipped_live_net(settings.teacher_net)[0] if settings.teacher_net else None
    if settings.init_from and not resuming:
        start = load_shipped_live_net(settings.init_from)[0]
        if not same_layout(start, net):
            raise ValueError(f"init_from {settings.init_from}: not a net of width {settings.width} with "
                             f"{settings.residual_blocks} residual blocks")
        net.load_state_dict(start.state_dict())
    elif teacher_net is not None and not resuming:
        sample = rng.integers(len(pairs["inputs"]), size=16)
        photos, styles = to_tensor(pairs["inputs"][sample]), pair_styles(pairs, vectors, sample)
        keep = least_needed_blocks(teacher_net, photos, styles, len(teacher_net.body.body) - settings.residual_blocks)
        net.load_state_dict(narrowed_live_net(teacher_net, settings.width, keep, photos, styles).state_dict())
    if resuming:
        state = load_tensors(ckpt_path, "live-model checkpoint")
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:
            group["lr"] = settings.lr
        step, seconds, history = state["step"], state["seconds"], json.loads(state["history"])
        rng = np.random.default_rng(settings.seed + step)

    vgg = None
    if settings.style_weight > 0 or settings.content_weight > 0 or settings.teacher_style_weight > 0:
        vgg = build_loss_network("vgg16", backbone_weights)
        with torch.no_grad():
            crop_grams = [{n: gram_matrix(f) for n, f in vgg(to_tensor(chunk)).items() if n in vgg.style_layers}
                          for chunk in np.array_split(bank["crops"], max(1, len(bank["crops"]) // 16))]
            grams = {n: torch.cat([g[n] for g in crop_grams]) for n in vgg.style_layers}

    size, n_pairs = settings.image_size, len(pairs["inputs"])
    margin = border_margin(net, size)
    bar = tqdm(total=settings.steps, initial=step, desc="distill", disable=not progress)
    net.train()
    while step < settings.steps:
        started = time.perf_counter()
        idx = rng.integers(n_pairs, size=settings.batch_size)
        y, x = rng.integers(TEACHER_SIZE - size + 1, size=2)
        photo = to_tensor(pairs["inputs"][idx, y:y + size, x:x + size])
        a, b, w = pair_mix(pairs, idx)
        style = w * vectors[a] + (1 - w) * vectors[b]
        if teacher_net is None:
            target = to_tensor(pairs["outputs"][idx, y:y + size, x:x + size])
        else:
            with torch.no_grad():
                target = teacher_net(photo, style)
        output = net(photo, style)
        terms = {"l1": settings.l1_weight * F.l1_loss(output, target)}
        if vgg is not None:
            feats = vgg(output)
            with torch.no_grad():
                content_feats = vgg(photo)
            w3 = w[:, :, None]
            terms["style"] = settings.style_weight * sum(
                relative_mse(gram_matrix(feats[n]), w3 * grams[n][a] + (1 - w3) * grams[n][b])
                for n in vgg.style_layers) / len(vgg.style_layers)
            terms["content"] = settings.content_weight * sum(
                relative_mse(feats[n], content_feats[n]) for n in vgg.content_layers)
            if settings.teacher_style_weight > 0:  # the teacher's texture for any vector, blends and unseen ones too
                with torch.no_grad():
                    teacher_feats = vgg(target)
                terms["teacher_style"] = settings.teacher_style_weight * sum(
                    relative_mse(gram_matrix(feats[n]), gram_matrix(teacher_feats[n]))
                    for n in vgg.style_layers) / len(vgg.style_layers)
        if settings.temporal_weight > 0:
            noise = torch.from_numpy(rng.normal(0, TEMPORAL_NOISE, tuple(photo.shape)).astype(np.float32))
            shift = tuple(int(v) for v in rng.integers(0, net.size_multiple, 2))
            terms["temporal"] = settings.temporal_weight * temporal_loss(
                lambda x: net(x, style), photo, output, noise, shift, size_multiple=net.size_multiple)
        if settings.border_weight > 0:
            terms["border"] = settings.border_weight * border_loss(lambda x: net(x, style), photo, output, margin)
        total = sum(terms.values())
        if not torch.isfinite(total):
            raise RuntimeError(f"loss became {float(total)} at step {step}; last good checkpoint: {ckpt_path}")
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        step += 1
        seconds += time.perf_counter() - started
        history.append({"step": step, **{k: round(float(v.detach()), 5) for k, v in terms.items()}})
        bar.update(1)
        bar.set_postfix({k: f"{float(v.detach()):.3f}" for k, v in terms.items()})
        if step % settings.checkpoint_every == 0 or step == settings.steps:
            save_checkpoint(ckpt_path, {"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                                        "step": step, "seconds": seconds, "settings": json.dumps(settings.to_dict()),
                                        "history": json.dumps(history[-5000:])})
    bar.close()
    return ckpt_path
