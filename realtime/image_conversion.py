"""Offline conversion of image files through a style model: same size, alpha kept."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .core.errors import UserError
from .core.images import ALPHA_SUFFIXES, IMAGE_SUFFIXES, check_whole_image, read_image_with_alpha, write_image
from .core.outputs import check_outputs, ensure_writable_folder
from .frame_stylizer import FrameStylizer

log = logging.getLogger(__name__)


def convert_images(inputs: list[str], output: str, stylize: FrameStylizer, overwrite: bool = False,
                   allow_truncated: bool = False) -> list[Path]:
    """Stylize image files, keeping each image's size and alpha channel: one input may go to a file
    (``-o out.png``), any number into a folder as ``<stem>_<model><suffix>``."""
    sources = [Path(p) for p in inputs]
    for path in sources:  # every input is checked (readable, whole, within the limit) before anything is written
        check_whole_image(path, allow_truncated)
    out = Path(output)
    tag = stylize.name  # the model's name: candy and candy.johnson never collide
    if out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir():
        if len(sources) > 1:
            raise UserError(f"-o {out}: several inputs need a folder, not a file name")
        targets, folder = [out], out.parent
    elif out.exists() and not out.is_dir():
        raise UserError(f"-o {out}: must be a folder or an image file name")
    else:
        suffixes = [p.suffix.lower() if p.suffix.lower() in IMAGE_SUFFIXES else ".png" for p in sources]
        targets, folder = [out / f"{p.stem}_{tag}{s}" for p, s in zip(sources, suffixes)], out
    check_outputs(sources, targets, overwrite)
    ensure_writable_folder(folder)
    for source, target in zip(sources, targets):
        image, alpha = read_image_with_alpha(source, allow_truncated)  # one at a time: 30 photos never sit in memory together
        styled = stylize(image)
        if alpha is not None and target.suffix.lower() in ALPHA_SUFFIXES:
            styled = np.dstack([styled, alpha])
        write_image(target, styled, overwrite)
        log.info(f"wrote {target}")
    return targets
