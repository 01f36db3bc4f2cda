"""The model contract shared by the exporter and the runtime: names, layouts and metadata keys."""
from __future__ import annotations

import json

CONTRACT_VERSION = "1"
INPUT_FRAME = "frame"
INPUT_STRENGTH = "strength"
# optional: float32 [D], the style vector of a painting (the live any-painting model); a model without it
# is a plain v1 model with its style fixed
INPUT_STYLE = "style"
OUTPUT = "stylized"

IO_UINT8_BGR = "uint8-bgr-nhwc"
IO_FLOAT_RGB = "float-rgb-nchw"
IO_LAYOUTS = (IO_UINT8_BGR, IO_FLOAT_RGB)

# metadata_props every exported model carries
META_CONTRACT = "stylize.contract_version"
META_STYLE = "stylize.style"
META_ARCH = "stylize.architecture"
META_BACKBONE = "stylize.backbone"
META_SETTINGS = "stylize.training_settings"
META_IO = "stylize.io_layout"
META_SOURCE = "stylize.source"
META_PRECISION = "stylize.precision"
META_PAINTINGS = "stylize.paintings"  # JSON: the paintings a style came from (file names, SHA-256, weights)
# JSON: how the live model's style maps were moved towards its training paintings (factor, centre vector)
META_STYLE_SHRINK = "stylize.style_shrink"
# JSON: how the live net was refined after training for one shipped style (its name, settings, figures)
META_NET_REFINED = "stylize.net_refined"
REQUIRED_METADATA = (META_CONTRACT, META_STYLE, META_ARCH, META_BACKBONE, META_SETTINGS, META_IO)


def build_metadata(settings: dict, style: str, arch: str, backbone: str, io_layout: str,
                   source: str | None = None) -> dict[str, str]:
    """The metadata every model this project writes carries (see REQUIRED_METADATA)."""
    meta = {META_CONTRACT: CONTRACT_VERSION, META_STYLE: style, META_ARCH: arch, META_BACKBONE: backbone,
            META_SETTINGS: json.dumps(settings, sort_keys=True), META_IO: io_layout}
    if source:
        meta[META_SOURCE] = source
    return meta
