"""Training settings: a dataclass saved inside every checkpoint and every exported model.

Kept free of torch imports so the command line can build its options from it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainSettings:
    """How a style net is trained. Defaults suit the CPU real-time net on a 2-core machine."""

    style: str = _opt("", "style image")
    data: str = _opt("", "folder of training photos")
    arch: str = _opt("fast", "transform net: fast (CPU real-time), johnson (Johnson et al. 2016), "
                             "or fast-v1 (the earlier CPU net)")
    width: float = _opt(1.0, "channel width multiplier of the net")
    backbone: str = _opt("auto", "loss network: vgg16, vgg19 or effnet-lite0; auto = vgg16 when installed "
                                 "('stylize weights install vgg16'), else effnet-lite0")
    steps: int = _opt(2000, "optimisation steps")
    batch_size: int = _opt(4, "photos per step")
    image_size: int = _opt(256, "training crop size in pixels")
    style_size: int = _opt(384, "longer side of the style image in pixels (larger: larger strokes and shapes)")
    content_weight: float = _opt(1.0, "weight of the content loss")
    style_weight: float = _opt(1.5, "weight of the style (Gram) loss")
    tv_weight: float = _opt(0.0, "weight of the total-variation smoothness loss")
    temporal_weight: float = _opt(0.0, "weight of the temporal robustness term against video flicker "
                                       "(output change under a small pan plus camera noise, relative to the input's)")
    lr: float = _opt(1e-3, "Adam learning rate")
    init_from: str = _opt("", "warm start: begin from the net of another run's checkpoint (same architecture "
                              "and width), e.g. a finished style; a new style then needs far fewer steps")
    seed: int = _opt(0, "random seed (training on the CPU is deterministic for a seed)")
    checkpoint_every: int = _opt(100, "steps between checkpoints")
    preview_every: int = _opt(250, "steps between preview grids")
    held_out: int = _opt(4, "photos held out of training, for previews")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainSettings":
        """Build settings from a saved dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def style_name(self) -> str:
        return Path(self.style).stem


def option_fields() -> list:
    """The settings a user sets with ``--kebab-case`` options (style and data are named apart)."""
    return [f for f in fields(TrainSettings) if f.name not in ("style", "data")]
