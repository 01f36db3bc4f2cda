"""Torch side of the project: transform nets, loss networks, training, the Gatys optimizer and ONNX export."""
if __name__ != "stylize.export":  # one module per file: this folder installs as stylize.export only
    raise ImportError(f"import stylize.export, not {__name__} (in a checkout: pip install -e .)")
