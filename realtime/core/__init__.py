"""The runtime core every part needs: the model contract, the onnxruntime session (providers, bounds for
models from outside, CPU graph rewrites), images and frames, outputs written safely, errors and text from
outside."""
