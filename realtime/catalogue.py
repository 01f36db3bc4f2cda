"""The models a command works with: open sessions for ``--model`` values, and describe models."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from stylize import models
from stylize.realtime.errors import UserError
from stylize.realtime.session import StyleSession


def open_session(name: str, device: str = "auto", threads: int | None = None) -> StyleSession:
    """A session for a shipped model name or a .onnx path. A shipped style name picks the Johnson
    net when CUDA is in use and the style ships in it."""
    path = Path(name)
    if path.suffix == ".onnx" or path.exists():
        return StyleSession(path, device, threads)
    shipped = models.locate(name)
    if shipped is None:
        available = ", ".join(models.shipped_models()) or "none shipped yet"
        raise UserError(f"model {name!r}: no such file and no shipped model of that name (shipped: {available})")
    session = StyleSession(shipped, device, threads)
    quality = models.locate(name, prefer_quality=True)
    if session.device == "cuda" and quality != shipped:
        session = StyleSession(quality, device, threads)
    return session


def open_sessions(names: list[str] | None, device: str, threads: int | None) -> list[StyleSession]:
    """Sessions for ``--model`` values (see :func:`open_session`); the default style when none given.
    A CPU fallback is reported once on stderr."""
    sessions = [open_session(name, device, threads) for name in names or [models.DEFAULT_STYLE]]
    for notice in {s.notice for s in sessions if s.notice}:
        print(f"note: {notice}", file=sys.stderr)
    return sessions


def describe_models(paths: list[str] | None) -> list[dict]:
    """Metadata of every shipped model and of the given model files."""
    rows = []
    for path in list(models.shipped_models().values()) + [Path(p) for p in paths or []]:
        info = StyleSession(path, "cpu", threads=1).info
        rows.append({
            "name": info.name, "style": info.style, "architecture": info.architecture, "backbone": info.backbone,
            "io_layout": info.io_layout, "size_mb": round(path.stat().st_size / 2**20, 2), "path": str(path),
            "trained_steps": info.settings.get("trained_steps"), "metadata": info.metadata,
        })
    return rows


def models_markdown(rows: list[dict]) -> str:
    """A Markdown table of models and the settings they were trained with (from their metadata)."""
    lines = ["| model | style | architecture | steps | style weight | temporal weight | crop | backbone | MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = json.loads(r["metadata"].get("stylize.training_settings", "{}"))
        lines.append(f"| `{r['name']}` | {r['style']} | {r['architecture']} (width {s.get('width', '-')}) | "
                     f"{r['trained_steps'] or '-'} | {s.get('style_weight', '-')} | {s.get('temporal_weight', 0)} | "
                     f"{s.get('image_size', '-')} | "
                     f"{r['backbone']} | {r['size_mb']} |")
    return "\n".join(lines)
