"""Argument types and option groups shared by the verbs of the `stylize` command."""
from __future__ import annotations

import argparse
import dataclasses

from ..export.settings import check_value, range_problem
from ..realtime.core.providers import DEVICES, MAX_THREADS


def number(kind: type = int, minimum: float | None = None, maximum: float | None = None,
           above: float | None = None):
    """An argparse type: an int or a finite float within the given range, checked at parse time."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        why = range_problem(value, minimum, maximum, above)
        if why is not None:
            raise argparse.ArgumentTypeError(f"{text}: {why}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def setting_type(f: dataclasses.Field, kind: type):
    """An argparse type for a settings field, checked against the field's allowed values."""
    base = number(kind) if kind in (int, float) else kind

    def parse(text: str):
        value = base(text)
        why = check_value(f, value)
        if why is not None:
            raise argparse.ArgumentTypeError(f"{text}: {why}")
        return value

    parse.__name__ = kind.__name__
    return parse


def add_settings_options(parser: argparse.ArgumentParser, settings_class: type, skip: tuple[str, ...] = ()) -> None:
    """One ``--kebab-case`` option per field of a settings dataclass, with its help, default and
    allowed values (its metadata); a bool that defaults to True becomes ``--no-<name>``."""
    for f in dataclasses.fields(settings_class):
        meta = f.metadata
        if f.name in skip or "help" not in meta:
            continue
        flag, default = "--" + f.name.replace("_", "-"), f.default
        if isinstance(default, bool):
            parser.add_argument("--no-" + flag[2:] if default else flag, dest=f.name, default=default,
                                action="store_false" if default else "store_true", help=meta["help"])
            continue
        shown = f" (default {default!r})" if default == "" else "" if default is None else f" (default {default})"
        kind = float if meta.get("many") else type(default)
        parser.add_argument(flag, type=setting_type(f, kind), default=default, nargs="+" if meta.get("many") else None,
                            metavar="{" + ",".join(meta["choices"]) + "}" if meta.get("choices") else None,
                            help=meta["help"] + shown)


def settings_from_args(settings_class: type, args: argparse.Namespace, **given):
    """A settings object from parsed options (fields without an option keep their defaults)."""
    names = {f.name for f in dataclasses.fields(settings_class)}
    return settings_class(**{**{n: getattr(args, n) for n in names if hasattr(args, n)}, **given})


def add_model_args(p: argparse.ArgumentParser, many: bool) -> None:
    p.add_argument("--model", "-m", action="append" if many else "store", metavar="NAME_OR_PATH",
                   help="shipped style name (see 'stylize models') or path to a contract .onnx file"
                   + ("; repeat to load several and switch between them" if many else "")
                   + " (default: the default shipped style)")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto: CUDA when it works, else CPU (reported); cuda/tensorrt: fail if unavailable")
    p.add_argument("--threads", type=number(int, 1, MAX_THREADS), default=None,
                   help="CPU inference threads (default: picked for the machine); a video file runs that many "
                        "frames at once, one thread each")
    p.add_argument("--precision", choices=("fp32", "int8", "auto"), default="fp32",
                   help="fp32 (default); int8: the shipped models' int8 copies, faster on CPUs with "
                        "VNNI but with more frame-to-frame flicker on video; auto: int8 where the CPU has VNNI")


def add_style_args(p: argparse.ArgumentParser) -> None:
    """``--style`` (any painting, or a shipped style, for the live model; repeatable) and ``--mix``."""
    p.add_argument("--style", "-s", action="append", metavar="PAINTING",
                   help="paint with any painting (an image file) or a shipped style's painting, through the live "
                        "any-painting model; repeat to blend several (encoded once, then cached)")
    p.add_argument("--mix", type=mix_weights, metavar="W1,W2,...",
                   help="blend weights of the --style paintings, in order (default: equal)")


def add_paint_size_arg(p: argparse.ArgumentParser, default: str) -> None:
    """``--paint-size``: the pixels the net paints frames at (a :class:`~stylize.realtime.core.frames.PaintSize`;
    'full': None)."""
    from ..realtime.core.errors import UserError
    from ..realtime.core.frames import PaintSize, parse_paint_size

    def paint_size(text: str) -> PaintSize | None:
        try:
            return parse_paint_size(text)
        except UserError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    p.add_argument("--paint-size", type=paint_size, default=default, metavar="WxH|WxH+|full",
                   help="frames are painted at WxH's pixel count (same aspect) and resized back: 1280x720 costs "
                        "what 640x480 does, and a smaller frame is painted enlarged, so strokes keep their size "
                        "relative to the frame at any size (a small face is not swamped by them); 'WxH+' only "
                        "enlarges smaller frames; 'full' paints every frame at its own size (finer strokes on "
                        f"large frames, coarser on small ones) (default {default})")


def mix_weights(text: str) -> list[float]:
    """An argparse type: comma-separated non-negative weights."""
    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated numbers, e.g. 0.7,0.3") from None
    if any(range_problem(w, 0.0) for w in weights) or sum(weights) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: weights must be finite, non-negative and not all zero")
    return weights
