"""Settings of training, Gatys and eval: dataclasses saved inside every checkpoint, model and report.

Kept free of torch imports so the command line can build its options from it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ARCH_NAMES = ("fast", "fast-aa", "fast-smooth", "johnson", "fast-v2", "fast-v1")
BACKBONE_NAMES = ("auto", "vgg16", "vgg19", "effnet-lite0")


def _opt(default, help: str, minimum: float | None = None, above: float | None = None,
         choices: tuple[str, ...] | None = None, maximum: float | None = None, many: bool = False):
    """A setting with its help and its allowed values: ``minimum``/``maximum`` (inclusive), ``above``
    (exclusive), ``choices``; ``many``: a list of numbers (None by default)."""
    return field(default=default, metadata={"help": help, "minimum": minimum, "maximum": maximum, "above": above,
                                            "choices": choices, "many": many})


def range_problem(value: float, minimum: float | None = None, maximum: float | None = None,
                  above: float | None = None) -> str | None:
    """Why a number is out of range (``minimum``/``maximum`` inclusive, ``above`` exclusive, finite),
    or None when it is in range."""
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum) \
            or (above is not None and value <= above):
        low = f"at least {minimum}" if minimum is not None else f"greater than {above}" if above is not None else ""
        high = f"at most {maximum}" if maximum is not None else ""
        return f"must be {' and '.join(x for x in (low, high) if x)}"
    return None


def check_value(f, value) -> str | None:
    """Why ``value`` is not allowed for setting ``f``, or None when it is."""
    meta = f.metadata
    if meta.get("choices"):
        return None if value in meta["choices"] else f"must be one of {', '.join(meta['choices'])}"
    if isinstance(value, (int, float)):
        return range_problem(value, meta.get("minimum"), meta.get("maximum"), meta.get("above"))
    return None


class SavedSettings:
    """What every settings dataclass saved inside an artifact can do: go to a dict and come back."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict):
        """Build settings from a saved dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class TrainSettings(SavedSettings):
    """How a style net is trained. Defaults tune the live model's painting of the style (the fast net)
    in a few minutes on a 2-core CPU; from random weights (--no-init-live) a net needs a gentler
    start: style weight 2, 256 px crops, about 700 steps (scripts/train_shipped.sh)."""

    style: str = _opt("", "style image")
    data: str = _opt("", "folder of training photos")
    arch: str = _opt("fast", "transform net: fast (CPU real-time), fast-aa (the same with anti-aliased down- and "
                             "upsampling: texture less locked to the pixel grid), fast-smooth (fast-aa with its "
                             "body's output low-passed too: no lattice on flat areas), johnson (Johnson et al. 2016), "
                             "or the earlier CPU nets fast-v2 (reflection padding) and fast-v1", choices=ARCH_NAMES)
    width: float = _opt(0.0, "channel width multiplier of the net (0: the architecture's default, 0.75 for the "
                             "fast nets (the live model's), 1 for the others)", minimum=0.0, maximum=8.0)
    residual_blocks: int = _opt(0, "residual blocks in the net's body (0: the architecture's default, 4 for the "
                                   "fast nets (the live model's), 5 for johnson)", minimum=0, maximum=16)
    backbone: str = _opt("auto", "loss network: vgg16, vgg19 or effnet-lite0; auto = vgg16 when installed "
                                 "('stylize weights install vgg16'), else effnet-lite0", choices=BACKBONE_NAMES)
    steps: int = _opt(250, "optimisation steps",
                      minimum=1)
    batch_size: int = _opt(4, "photos per step", minimum=1)
    image_size: int = _opt(192, "training crop size in pixels", minimum=32)
    zoom: float = _opt(1.5, "how far a photo may be enlarged before its crop: its short side becomes the crop "
                            "size times a random factor from 1 to this (1.5: whole scenes; 4: close-ups and the "
                            "flat areas of HD frames)", minimum=1.0, maximum=16.0)
    style_size: int = _opt(384, "longer side of the style image in pixels (larger: larger strokes and shapes)",
                           minimum=32)
    content_weight: float = _opt(1.0, "weight of the content loss", minimum=0.0)
    style_weight: float = _opt(8.0, "weight of the style (Gram) loss (8 suits a start from the live model; "
                                    "from random weights 2, or the texture paints over the photo)", minimum=0.0)
    tv_weight: float = _opt(0.0, "weight of the total-variation smoothness loss", minimum=0.0)
    style_layers: str = _opt("", "comma-separated loss-network layers of the style loss (VGG only; empty: the "
                                 "backbone's, relu1_2,relu2_2,relu3_3,relu4_3 for vgg16); leaving relu1_2 out asks "
                                 "for less pixel-fine texture")
    colour_weight: float = _opt(0.0, "weight of the colour term: each output's colour means and spreads must match "
                                     "the painting's (against a washed-out or muddy palette)", minimum=0.0)
    temporal_weight: float = _opt(0.0, "weight of the temporal robustness term against video flicker "
                                       "(output change under a small pan plus camera noise, relative to the input's)",
                                  minimum=0.0)
    border_weight: float = _opt(1.0, "weight of the border term: the pixels next to a frame's edge must be painted as "
                                     "they are inside a larger frame (against a band of the style's colour along "
                                     "the top of every picture)", minimum=0.0)
    lr: float = _opt(2e-3, "Adam learning rate", above=0.0)
    init_from: str = _opt("", "warm start: begin from the net of another run (its folder or checkpoint), of a "
                              "model `stylize export` wrote (.onnx) or of a shipped style (its name), with the same "
                              "architecture and width: e.g. a finished style; a new style then needs far fewer steps")
    init_live: bool = _opt(True, "start from the live any-painting model painting this style, so a few minutes "
                                 "of training reach a tuned style (the fast net at its default shape, unless --init-from "
                                 "is given); --no-init-live starts from random weights")
    seed: int = _opt(0, "random seed (training on the CPU is deterministic for a seed)", minimum=0)
    checkpoint_every: int = _opt(100, "steps between checkpoints", minimum=1)
    preview_every: int = _opt(250, "steps between preview grids", minimum=1)
    held_out: int = _opt(4, "photos held out of training, for previews", minimum=0)

    def validate(self) -> None:
        """Raise ValueError naming every setting outside its allowed range."""
        problems = [f"{f.name} {getattr(self, f.name)!r} {why}" for f in fields(self)
                    if (why := check_value(f, getattr(self, f.name))) is not None]
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def style_name(self) -> str:
        return Path(self.style).stem


GATYS_STYLE_WEIGHT = 10.0  # measured: 1 keeps the photo with a faint texture, 10 gives the classic look


@dataclass
class GatysSettings:
    """Everything that shapes a Gatys stylization (saved beside the output)."""

    backbone: str = _opt("auto", "loss network (auto: vgg16 when installed with 'stylize weights install vgg16', "
                                 "else effnet-lite0)", choices=BACKBONE_NAMES)
    content_weight: float = _opt(1.0, "alpha", minimum=0.0)
    style_weight: float = _opt(GATYS_STYLE_WEIGHT, "beta, relative to alpha; style terms are normalised to 1 at "
                                                   "the start", minimum=0.0)
    tv_weight: float = _opt(0.0, "total-variation weight", minimum=0.0)
    style_layer_weights: list[float] | None = _opt(None, "one weight per style layer", minimum=0.0, many=True)
    style_blend: list[float] | None = _opt(None, "one weight per style (default equal)", minimum=0.0, many=True)
    init: str = _opt("content", "content, noise, or an image path")
    optimizer: str = _opt("lbfgs", "optimizer", choices=("lbfgs", "adam"))
    lr: float = _opt(0.02, "Adam learning rate (L-BFGS uses a line search)", above=0.0)
    iterations: int = _opt(300, "iterations in all", minimum=1, maximum=100_000)
    size: int = _opt(512, "longer side of the output in pixels", minimum=32, maximum=8192)
    style_scale: float = _opt(1.0, "style image size relative to --size", above=0.0, maximum=8.0)
    original_colors: bool = _opt(False, "transfer luminance only, keep the photo's colours")
    levels: int = _opt(1, "coarse-to-fine resolutions (1: off; 2 or more optimize at halved sizes first)",
                       minimum=1, maximum=8)
    average_pooling: bool = _opt(False, "VGG: average instead of max pooling")
    normalize: bool = _opt(True, "per-layer normalisation of the losses (--no-normalize: the paper's plain losses)")
    seed: int = _opt(0, "random seed", minimum=0)
    save_every: int = _opt(0, "write an intermediate image every N iterations (0: never)", minimum=0)


@dataclass
class EvalSettings:
    """How `stylize eval` builds its Gatys references (a quicker Gatys than the default one)."""

    backbone: str = _opt("auto", "loss network of the Gatys reference and the scores (auto: vgg16 when "
                                 "installed)", choices=BACKBONE_NAMES)
    size: int = _opt(384, "longer side of each photo", minimum=32, maximum=8192)
    iterations: int = _opt(100, "Gatys L-BFGS iterations", minimum=1, maximum=100_000)
    style_weight: float = _opt(GATYS_STYLE_WEIGHT, "Gatys beta", minimum=0.0)

    def gatys(self) -> GatysSettings:
        return GatysSettings(backbone=self.backbone, size=self.size, iterations=self.iterations,
                             style_weight=self.style_weight)


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
    # painting split (export.painting_split, e.g. models/live/split.json): its validation and test paintings
    # are never trained on, whatever their file names
    split: str = ""
    width: float = 1.0
    residual_blocks: int = 5
    antialias: bool = False  # the fast-aa layout: blur before every stride, bilinear upsampling (no parameters)
    smooth_body: bool = False  # with antialias, the fast-smooth layout: the body's output low-passed too
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
    noise_weight: float = 0.0  # against flicker on still scenes: the painting's change under camera noise alone
    motion_weight: float = 0.0  # against flicker in motion: the painting must follow a sub-pixel shift, turn and zoom
    border_weight: float = 0.0  # the per-style recipe's term against bands along the frame's edges
    # colour statistics: each RGB channel's mean and spread of the painting against those of the painting crop
    # its vector came from (blends: the blend), against grey, flat paintings of colourful styles
    colour_weight: float = 0.0
    init_from: str = ""  # live-net weights (.npz, as shipped in models/live) to start from; "" = random
    # live-net weights (.npz) to distil a cheaper net from: its paintings of the photo crops replace the
    # teacher pairs' as targets, and the student starts as it, narrowed to this width and block count
    teacher_net: str = ""
    gram_size: int = 256  # painting crops are scaled to this many px for their Gram matrices
    # folder of per-style nets (contract v1, e.g. models/): a net trained on one of the training paintings
    # paints the Gram target for that painting's uncoloured crops' vectors (the per-style nets paint
    # strokes closer to their paintings, with less fine grain, than the live net)
    style_nets: str = ""
    style_net_weight: float = 0.0  # weight of that term
    style_net_samples: int = 1  # how many samples of every batch are such crops' vectors (the last ones)
    # comma-separated VGG16 layers of every Gram term (empty: relu1_2,relu2_2,relu3_3,relu4_3); leaving
    # relu1_2 out asks for less pixel-fine texture
    style_layers: str = ""
    seed: int = 0
    checkpoint_every: int = 100
