"""The shipped, ready-to-run styles: ``<style>.onnx`` (CPU real-time net) and, where one ships,
``<style>.johnson.onnx`` (full Johnson net, picked on CUDA or on request)."""
from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_STYLE = "candy"
QUALITY_SUFFIX = ".johnson"


def shipped_models() -> dict[str, Path]:
    """Every shipped model by name (file name without ``.onnx``), sorted."""
    return {p.name[: -len(".onnx")]: p for p in sorted(MODELS_DIR.glob("*.onnx"))}


def style_names() -> list[str]:
    """The shipped style names (one per style, whatever architectures it ships in)."""
    return sorted({name.removesuffix(QUALITY_SUFFIX) for name in shipped_models()})


def locate(name: str, prefer_quality: bool = False) -> Path | None:
    """The shipped model for a style or model name; ``prefer_quality`` picks the Johnson net when
    the style ships in it (as on CUDA). None when no shipped model has that name."""
    models = shipped_models()
    name = name.replace("-", "_")  # rain-princess, as the painting's file is named, finds rain_princess
    if prefer_quality and name + QUALITY_SUFFIX in models:
        return models[name + QUALITY_SUFFIX]
    return models.get(name)
