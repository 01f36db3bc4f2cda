"""Bounds for models from outside: a model file is data, but its graph decides how much memory and time a run
takes. A few hundred bytes can ask for gigabytes (``ConstantOfShape`` to a huge shape) or loop for ever
(``Loop`` with a trip count of 2^62), and shape inference cannot bound every graph (ours pad to the net's size
multiple with computed shapes). So before a model that did not ship with the package is run, it must pass:

- no ``Loop`` or ``Scan`` anywhere (no style net needs them, and their run time has no bound);
- one run at a small probe frame in a child process with a memory cap and a time limit.

A model that passed is remembered by its SHA-256 in the stylize cache, so the probe runs once per file.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .cache import cache_root, file_digest
from .errors import UserError
from ... import models

UNBOUNDED_OPS = {"Loop", "Scan"}
PROBE_MEMORY_BYTES = 3 << 30  # address space of the probe process: onnxruntime itself takes about 0.35 GB
PROBE_SECONDS = 60.0
PROBE_SIDE = 64  # the probe frame's free dimensions (a 64x64 frame)
# the probe's exit codes when onnxruntime cannot load the model at all, and when the model refuses the probe's
# inputs (declared sizes over 8192, other shapes): questions for the contract checks, not of bounds
LOAD_FAILED, INPUT_REFUSED = 3, 4

MAX_DECLARED = 8192  # a declared input size the probe feeds as it is; larger ones are fed PROBE_SIDE
# run in the child: every input fed zeros of its declared shape (free dimensions PROBE_SIDE, the first 1)
_PROBE = f"LOAD_FAILED, INPUT_REFUSED, MAX_DECLARED = {LOAD_FAILED}, {INPUT_REFUSED}, {MAX_DECLARED}\n" + r"""
import sys
import numpy as np
limit = int(sys.argv[2])
try:  # no resource module on Windows: there the time limit alone applies
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
except (ImportError, ValueError, OSError):
    pass
import onnxruntime as ort
TYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(double)": np.float64,
         "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float16)": np.float16, "tensor(bool)": np.bool_}
options = ort.SessionOptions()
options.log_severity_level = 4
options.intra_op_num_threads = 1
source = sys.argv[1]
try:
    source.encode("utf-8")
except UnicodeEncodeError:  # onnxruntime takes only names it can encode: the file's bytes instead
    with open(source, "rb") as model_file:
        source = model_file.read()
try:
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
except Exception as exc:
    sys.stderr.write((str(exc).splitlines()[0] if str(exc) else type(exc).__name__) + "\n")  # read by the parent
    sys.exit(LOAD_FAILED)
side = int(sys.argv[3])
feeds = {}
for i in session.get_inputs():
    dims = [d if isinstance(d, int) and 0 < d <= MAX_DECLARED else (1 if k == 0 and len(i.shape) == 4 else side)
            for k, d in enumerate(i.shape)]
    if len(dims) == 4 and dims[-1] == 3:
        dims[0] = 1
    feeds[i.name] = np.zeros(dims, TYPES.get(i.type, np.float32))
try:
    session.run(None, feeds)
except Exception as exc:
    if "dimensions" in str(exc) or "rank" in str(exc).lower():  # it declares inputs the probe did not give
        sys.exit(INPUT_REFUSED)
    raise
"""


def is_shipped(path: Path) -> bool:
    """Whether ``path`` is one of the package's own model files (trusted: built and verified here)."""
    try:
        return path.resolve().is_relative_to(models.MODELS_DIR)
    except OSError:
        return False


def check_bounded(path: str | Path) -> None:
    """Refuse (UserError) a model from outside whose graph can loop without bound, or that cannot run a small
    frame within PROBE_MEMORY_BYTES and PROBE_SECONDS; shipped models and models that passed before are not
    probed again."""
    path = Path(path)
    if is_shipped(path):
        return
    mark = cache_root() / "bounded-models" / file_digest(path)  # read in chunks: a large file is not held whole
    if mark.exists():
        return
    unbounded = sorted(UNBOUNDED_OPS & graph_ops(path))
    if unbounded:
        raise UserError(f"{path}: refused: the graph has {', '.join(unbounded)}, whose run time has no bound "
                        "(no style model needs them)")
    if not probe(path):
        return  # the model refused the probe's inputs: the contract checks that follow say why
    try:
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()
    except OSError:
        pass  # a cache that cannot be written: the probe runs again next time


def graph_ops(path: Path) -> set[str]:
    """Every operator type in the model's graph and its subgraphs (If branches and the like)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - not a model: onnxruntime says so when it loads it
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: onnxruntime cannot load this model: not an ONNX file ({reason})") from None
    ops: set[str] = set()
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            ops.add(node.op_type)
            graphs += [a.g for a in node.attribute if a.HasField("g")] + [g for a in node.attribute for g in a.graphs]
    return ops


def probe(path: Path) -> bool:
    """Run the model once at a small frame in a child process with capped memory and time: True when it ran,
    False when it refused the probe's inputs; a UserError when it is out of bounds or cannot be loaded."""
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, os.fspath(path), str(PROBE_MEMORY_BYTES), str(PROBE_SIDE)],
                              capture_output=True, text=True, timeout=PROBE_SECONDS)
    except subprocess.TimeoutExpired:
        raise UserError(f"{path}: refused: one {PROBE_SIDE}x{PROBE_SIDE} frame took over {PROBE_SECONDS:.0f} s "
                        "(a graph that does not end, or one far too large)") from None
    last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
    if done.returncode == INPUT_REFUSED:
        return False
    if done.returncode == LOAD_FAILED:  # not a question of bounds: said as loading it here would say it
        raise UserError(f"{path}: onnxruntime cannot load this model: {last}")
    if done.returncode != 0:
        raise UserError(f"{path}: refused: the model cannot paint a {PROBE_SIDE}x{PROBE_SIDE} frame within "
                        f"{PROBE_MEMORY_BYTES >> 30} GB ({last})")
    return True
