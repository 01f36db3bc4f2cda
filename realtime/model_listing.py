"""What `stylize models` shows: every shipped and given model with its metadata."""
from __future__ import annotations

from pathlib import Path

from .core.session import StyleSession
from .core.text import settings_json
from .. import models


def describe_models(paths: list[str] | None) -> list[dict]:
    """Metadata of every shipped model and of the given model files."""
    rows = []
    for path in list(models.shipped_models().values()) + [Path(p) for p in paths or []]:
        info = StyleSession(path, "cpu", threads=1).info
        rows.append({
            "name": info.name, "style": info.style, "architecture": info.architecture, "backbone": info.backbone,
            "io_layout": info.io_layout, "size_mb": round(path.stat().st_size / 2**20, 2), "path": str(path),
            "trained_steps": info.settings.get("trained_steps"), "started_from": started_from(info.settings),
            "shape": net_shape(info.settings),
            "style_dims": info.style_dims, "metadata": info.metadata,
        })
    return rows


def net_shape(settings: dict) -> str | None:
    """The net's width multiplier and residual blocks as its training settings record them, e.g.
    "width 0.75, 4 blocks" (models made before the block count was a setting have five); None when
    the settings do not say."""
    width, blocks = settings.get("width"), settings.get("residual_blocks") or 5
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (width, blocks)):
        return None  # absent, or not numbers: the settings do not say
    return f"width {width:g}, {blocks:g} blocks"


def started_from(settings: dict) -> str | None:
    """What a model's last training stage began from: a shipped style or a model file by name, another run
    (``--init-from``; its steps are not in the model's count; its folder name means nothing elsewhere) or
    the live model; None for a net trained from random weights."""
    if settings.get("init_from"):
        name = Path(str(settings["init_from"])).name
        return name if name in models.shipped_models() or name.endswith(".onnx") else "an earlier run"
    if settings.get("init_live"):
        return "the live model"
    return None


def steps_text(row: dict) -> str:
    """The steps column: this model's training steps, and what they continued."""
    steps = str(row["trained_steps"] or "-")
    return f"{steps} after {row['started_from']}" if row["started_from"] else steps


def models_markdown(rows: list[dict]) -> str:
    """A Markdown table of models and the settings they were trained with (from their metadata)."""
    lines = ["| model | style | architecture | steps | style weight | temporal weight | crop | backbone | MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = settings_json(r["metadata"].get("stylize.training_settings", "{}"))
        lines.append(f"| `{r['name']}` | {r['style']} | {r['architecture']} (width {s.get('width', '-')}) | "
                     f"{steps_text(r)} | {s.get('style_weight', '-')} | {s.get('temporal_weight', 0)} | "
                     f"{s.get('image_size', '-')} | "
                     f"{r['backbone']} | {r['size_mb']} |")
    return "\n".join(lines)
