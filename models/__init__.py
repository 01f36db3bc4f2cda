"""The shipped, ready-to-run styles: ``<style>.onnx`` (CPU real-time net) and, where one ships,
``<style>.johnson.onnx`` (full Johnson net, picked on CUDA or on request)."""
from __future__ import annotations

from pathlib import Path

if __name__ != "stylize.models":  # one module per file: this folder installs as stylize.models only
    raise ImportError(f"import stylize.models, not {__name__} (in a checkout: pip install -e .)")

MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_STYLE = "candy"
QUALITY_SUFFIX = ".johnson"
# the live any-painting model: one net that paints with the style vector of any painting
LIVE_DIR = MODELS_DIR / "live"
LIVE_MODEL = LIVE_DIR / "any_painting.onnx"
STYLE_ENCODER = LIVE_DIR / "style_encoder.onnx"  # painting -> style vector (Magenta's style-prediction net)
LIVE_WEIGHTS = LIVE_DIR / "any_painting.npz"  # the live net's torch weights: where `stylize train` starts from
LIVE_STYLES = LIVE_DIR / "styles.json"  # the shipped styles' paintings as style vectors
# int8 copies of shipped models (convolutions quantized), same file names: faster on CPUs with VNNI
INT8_DIR = MODELS_DIR / "int8"
LIVE_MODEL_INT8 = INT8_DIR / LIVE_MODEL.name


def shipped_models() -> dict[str, Path]:
    """Every shipped model by name (file name without ``.onnx``), sorted; the live model last."""
    found = {p.name[: -len(".onnx")]: p for p in sorted(MODELS_DIR.glob("*.onnx"))}
    if LIVE_MODEL.is_file():
        found[LIVE_MODEL.stem] = LIVE_MODEL
    return found


def style_names() -> list[str]:
    """The shipped style names (one per style, whatever architectures it ships in)."""
    return sorted({name.removesuffix(QUALITY_SUFFIX) for name in shipped_models() if name != LIVE_MODEL.stem})


def locate(name: str, prefer_quality: bool = False) -> Path | None:
    """The shipped model for a style or model name; ``prefer_quality`` picks the Johnson net when
    the style ships in it (as on CUDA). None when no shipped model has that name."""
    models = shipped_models()
    name = name.replace("-", "_")  # rain-princess, as the painting's file is named, finds rain_princess
    if prefer_quality and name + QUALITY_SUFFIX in models:
        return models[name + QUALITY_SUFFIX]
    return models.get(name)


def int8_copy(path: Path) -> Path | None:
    """The int8 copy of a shipped model file, where one ships."""
    path = Path(path).resolve()
    if path.parent not in (MODELS_DIR, LIVE_DIR):
        return None
    copy = INT8_DIR / path.name
    return copy if copy.is_file() else None
