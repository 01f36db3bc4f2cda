"""What `stylize models` shows: every shipped and given model with its metadata."""
from __future__ import annotations

import json
from pathlib import Path

from .. import models
from .session import StyleSession


def describe_models(paths: list[str] | None) -> list[dict]:
    """Metadata of every shipped model and of the given model files."""
    rows = []
    for path in list(models.shipped_models().values()) + [Path(p) for p in paths or []]:
        info = StyleSession(path, "cpu", threads=1).info
        rows.append({
            "name": info.name, "style": info.style, "architecture": info.architecture, "backbone": info.backbone,
            "io_layout": info.io_layout, "size_mb": round(path.stat().st_size / 2**20, 2), "path": str(path),
            "trained_steps": info.settings.get("trained_steps"), "style_dims": info.style_dims,
            "metadata": info.metadata,
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
