"""ONNX graph tools without torch, for both halves: wrapping a plain float style model into the contract
(:mod:`.float_wrap`) and int8 copies (:mod:`.quantize`)."""
