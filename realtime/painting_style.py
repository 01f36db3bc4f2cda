"""Any painting as a live style: a painting becomes a style vector (Magenta's style-prediction net,
run once per painting and cached), vectors mix by weights, and the live model paints with the result."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from .core.cache import cache_root, file_digest
from .core.errors import UserError, not_a_file
from .core.images import check_readable_image, read_image_with_alpha
from .core.outputs import atomic_output
from .core.text import onnxruntime_source, printable
from .. import models

ENCODER_INPUT_SIZE = 256  # the style-prediction net sees a centred square of the painting at this size
MIN_PAINTING_SIDE = 16  # smaller images hold no brush strokes to speak of
# a cache entry is a .npy of one float32 vector (528 bytes for 100 numbers); the encoder's values stay
# within +-3.1 for every painting, noise, black and white image tried, so a larger one is not its output
MAX_CACHE_ENTRY_BYTES = 4096
STYLE_VALUE_LIMIT = 8.0


def cache_dir() -> Path:
    """Where encoded paintings are kept: the ``styles`` folder of :func:`cache_root`."""
    return cache_root() / "styles"


def read_painting(path: str | Path) -> np.ndarray:
    """A painting as uint8 BGR: grey and 16-bit images converted, transparency laid over white; a
    file that is not an image, or is too small to hold a style, is refused with a message."""
    image, alpha = read_image_with_alpha(path)
    if min(image.shape[:2]) < MIN_PAINTING_SIDE:
        raise UserError(f"{path}: {image.shape[1]}x{image.shape[0]} is too small for a painting's style "
                        f"(at least {MIN_PAINTING_SIDE} px a side)")
    if alpha is not None:
        a = alpha[:, :, None].astype(np.float32) / 255.0
        image = (image * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)
    return image


class StyleEncoder:
    """Turns paintings into style vectors with the shipped style-prediction net (onnxruntime, CPU)."""

    def __init__(self, path: str | Path = models.STYLE_ENCODER, threads: int | None = None):
        if not Path(path).is_file():
            raise UserError(f"{path}: the style encoder is missing (a painting needs it to become a style)")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(onnxruntime_source(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def encode_image(self, bgr: np.ndarray) -> np.ndarray:
        """The style vector (float32 [D]) of a BGR painting: its centred square at 256 px."""
        h, w = bgr.shape[:2]
        side = min(h, w)
        square = bgr[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        square = cv2.resize(square, (ENCODER_INPUT_SIZE, ENCODER_INPUT_SIZE), interpolation=cv2.INTER_AREA)
        rgb = (square[:, :, ::-1].astype(np.float32) / 255.0)[None]
        return self.session.run(None, {self.input_name: rgb})[0].reshape(-1).astype(np.float32)

    def encode(self, painting: str | Path, digest: str | None = None) -> np.ndarray:
        """The style vector of a painting file (its SHA-256 ``digest`` when known), from the cache when this
        file was encoded before. The file's header is read first: a video or a huge file given as a painting
        is refused before it is hashed."""
        painting = Path(painting)
        if painting.exists() and not painting.is_file():
            raise not_a_file(painting, "painting")
        if not painting.is_file():
            raise UserError(f"{painting}: no such painting (an image file, or a shipped style name)")
        check_readable_image(painting)
        cached = cache_dir() / f"{digest or file_digest(painting)}.npy"
        vector = self.read_cached(cached)
        if vector is not None:
            return vector
        vector = self.encode_image(read_painting(painting))
        save_atomically(cached, vector)
        return vector

    def read_cached(self, path: Path) -> np.ndarray | None:
        """A cache entry's vector, or None where there is none or it cannot be this encoder's output
        (damaged, another size, not finite, out of range): such an entry is encoded again."""
        size = int(np.prod(self.session.get_outputs()[0].shape))
        try:
            if not path.is_file() or path.stat().st_size > MAX_CACHE_ENTRY_BYTES:
                return None
            with open(path, "rb") as f:  # the header first: a damaged one may declare 10^12 values
                version = np.lib.format.read_magic(f)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                    else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(f)
                if dtype != np.float32 or shape != (size,):
                    return None
                f.seek(0)
                vector = np.lib.format.read_array(f, allow_pickle=False)
        except (OSError, ValueError, EOFError, SyntaxError):
            return None
        if vector.shape != (size,) or not np.isfinite(vector).all() or np.abs(vector).max() > STYLE_VALUE_LIMIT:
            return None
        return vector


def save_atomically(path: Path, vector: np.ndarray) -> None:
    """Write a cache entry atomically; a cache that cannot be written is skipped (the vector is still
    returned)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            np.save(tmp, vector)
    except (OSError, UserError):
        pass


@dataclass
class PaintingStyle:
    """One style for the live model: its name, its vector and where it came from."""

    name: str
    vector: np.ndarray
    source: dict = field(default_factory=dict)


def shipped_style_vectors() -> dict[str, dict]:
    """The shipped styles' paintings as style vectors (``models/live/styles.json``)."""
    if not models.LIVE_STYLES.is_file():
        return {}
    return json.loads(models.LIVE_STYLES.read_text())


def save_shipped_styles(styles: dict[str, dict]) -> None:
    """Write ``models/live/styles.json`` (atomically: a failed write leaves the old file)."""
    with atomic_output(models.LIVE_STYLES) as tmp:
        tmp.write_text(json.dumps(styles, indent=1) + "\n")


def resolve_style(spec: str | Path, encoder: StyleEncoder | None = None) -> PaintingStyle:
    """A style from a shipped style name (``candy``) or a painting file (any image)."""
    shipped = shipped_style_vectors()
    key = str(spec).replace("-", "_")
    if key in shipped and not Path(spec).is_file():
        entry = shipped[key]
        return PaintingStyle(key, np.asarray(entry["vector"], np.float32), {"shipped": key, **entry.get("source", {})})
    path = Path(spec)
    if path.exists() and not path.is_file():
        raise not_a_file(path, "painting")
    if not path.is_file():
        names = ", ".join(sorted(shipped)) or "none"
        raise UserError(f"--style {spec}: no such painting file and no shipped style of that name (shipped: {names})")
    check_readable_image(path)  # before hashing: a 6 GB video is refused at its header
    digest = file_digest(path)
    vector = (encoder or StyleEncoder()).encode(path, digest)
    return PaintingStyle(path.stem, vector, {"file": path.name, "sha256": digest})


def mix_weights(weights: list[float] | None, count: int) -> np.ndarray:
    """Weights for ``count`` styles, normalised to sum 1 (equal when none are given)."""
    if weights is None:
        return np.full(count, 1.0 / count, np.float32)
    try:
        values = np.asarray([float(w) for w in weights], np.float64)
    except (TypeError, ValueError):
        raise UserError(f"--mix {printable(weights)!s:.80}: weights must be numbers") from None
    if len(values) != count:
        raise UserError(f"--mix has {len(values)} weights for {count} styles: give one weight per --style")
    if not np.isfinite(values).all() or (values < 0).any() or values.max() <= 0:
        raise UserError("--mix weights must be non-negative numbers, not all zero")
    values = values / values.max()  # first to at most 1: huge weights must not overflow their sum
    return (values / values.sum()).astype(np.float32)


def mixed_vector(styles: list[PaintingStyle], weights: list[float] | None = None) -> np.ndarray:
    """The weighted blend of the styles' vectors (the live model interpolates between styles this way)."""
    if not styles:
        raise UserError("no style to mix")
    w = mix_weights(weights, len(styles))
    return np.sum([wi * s.vector for wi, s in zip(w, styles)], axis=0).astype(np.float32)


def describe_mix(styles: list[PaintingStyle], weights: list[float] | None = None) -> str:
    """``candy 70% + udnie 30%``, or the single style's name."""
    if len(styles) == 1:
        return styles[0].name
    w = mix_weights(weights, len(styles))
    return " + ".join(f"{s.name} {round(100 * wi)}%" for s, wi in zip(styles, w))
