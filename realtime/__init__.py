"""Runtime side of the project: runs contract ONNX style models with onnxruntime. Never imports torch."""
