"""Torch side of the project: transform nets, loss networks, training, the Gatys optimizer and ONNX export."""
