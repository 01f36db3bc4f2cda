"""Runtime side of the project: runs contract ONNX style models with onnxruntime. Never imports torch."""
if __name__ != "stylize.realtime":  # one module per file: this folder installs as stylize.realtime only
    raise ImportError(f"import stylize.realtime, not {__name__} (in a checkout: pip install -e .)")
