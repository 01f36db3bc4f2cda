import numpy as np
import pytest

from stylize.realtime.core import contract
from stylize.realtime.core.errors import UserError
from stylize.realtime.core.providers import CPU, CUDA, TENSORRT, check_providers, cpu_threads, provider_plan
from stylize.realtime.core.session import StyleSession
from tests.conftest import contract_metadata, make_contract_model


def test_provider_plan_per_device():
    assert provider_plan("cpu", [CUDA, CPU]) == [CPU]
    assert provider_plan("auto", [CPU]) == [CPU]
    assert provider_plan("auto", [CUDA, CPU])[0][0] == CUDA
    assert provider_plan("cuda", [CPU])[0][0] == CUDA
    assert [p[0] if isinstance(p, tuple) else p for p in provider_plan("tensorrt", [])] == [TENSORRT, CUDA, CPU]
    cuda_options = provider_plan("cuda", [])[0][1]
    assert cuda_options["cudnn_conv_algo_search"] == "HEURISTIC"
    assert cuda_options["do_copy_in_default_stream"] is True
    with pytest.raises(UserError, match="unknown device"):
        provider_plan("gpu", [])


def test_fallback_is_reported_under_auto_and_fatal_under_cuda():
    requested = provider_plan("cuda", [])
    assert check_providers("auto", requested, [CPU]) is not None
    assert check_providers("auto", requested, [CUDA, CPU]) is None
    with pytest.raises(UserError, match="could not start CUDAExecutionProvider"):
        check_providers("cuda", requested, [CPU])
    with pytest.raises(UserError, match="TensorrtExecutionProvider"):
        check_providers("tensorrt", provider_plan("tensorrt", []), [CUDA, CPU])
    assert check_providers("cpu", [CPU], [CPU]) is None


def test_cuda_request_on_this_machine(negative_model):
    """Without a usable GPU, auto runs on the CPU with a notice and cuda fails with a clear error."""
    import onnxruntime as ort

    session = StyleSession(negative_model, "auto")
    assert session.provider in (CPU, CUDA)
    if session.provider == CPU and CUDA in ort.get_available_providers():
        assert "CPU" in session.notice
    if session.provider == CPU:
        with pytest.raises(UserError, match="--device cuda"):
            StyleSession(negative_model, "cuda")


def test_cpu_threads_leave_room_on_bigger_machines():
    assert cpu_threads(2) == 2
    assert cpu_threads(8) == 7


@pytest.mark.parametrize("size", [(3, 5), (641, 479), (1, 1), (480, 640)])
def test_run_keeps_odd_sizes(negative_model, size):
    frame = np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)
    session = StyleSession(negative_model, "cpu")
    out = session.run(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(out, 255 - frame)
    half = session.run(frame, 0.5)
    assert np.abs(half.astype(int) - 127.5).max() <= 128
    assert np.array_equal(session.run(frame, 0.0), frame)


def test_io_binding_path_matches_plain_run(negative_model, photo):
    plain = StyleSession(negative_model, "cpu")
    bound = StyleSession(negative_model, "cpu", io_binding=True)
    for strength in (1.0, 0.3):
        assert np.array_equal(bound.run(photo, strength), plain.run(photo, strength))
    other = photo[:31, :45].copy()  # a new size rebinds the buffers
    assert np.array_equal(bound.run(other), plain.run(other))
    assert np.array_equal(bound.run(photo), plain.run(photo))


def test_model_metadata_is_read(negative_model):
    info = StyleSession(negative_model, "cpu").info
    assert info.style == "negative" and info.architecture == "test"
    assert info.settings == {"made_by": "tests"}
    assert info.io_layout == contract.IO_UINT8_BGR


def test_missing_and_invalid_model_files(tmp_path):
    with pytest.raises(UserError, match="no such model file"):
        StyleSession(tmp_path / "nope.onnx", "cpu")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf")
    with pytest.raises(UserError, match="cannot load this model"):
        StyleSession(junk, "cpu")


def test_non_contract_models_say_what_is_wrong(tmp_path):
    wrong_name = make_contract_model(tmp_path / "a.onnx", frame_name="image")
    with pytest.raises(UserError, match="no input named 'frame'"):
        StyleSession(wrong_name, "cpu")
    no_meta = make_contract_model(tmp_path / "b.onnx", metadata={})
    with pytest.raises(UserError, match="metadata lacks stylize.contract_version"):
        StyleSession(no_meta, "cpu")
    meta = contract_metadata()
    meta[contract.META_IO] = "float-rgb-nchw"
    wrong_layout = make_contract_model(tmp_path / "c.onnx", metadata=meta)
    with pytest.raises(UserError, match="tensor\\(float\\)"):
        StyleSession(wrong_layout, "cpu")


def test_model_without_strength_input_runs(tmp_path, photo):
    path = make_contract_model(tmp_path / "fixed.onnx", with_strength=False)
    session = StyleSession(path, "cpu")
    assert not session.info.has_strength
    assert np.array_equal(session.run(photo, 0.2), 255 - photo)


def test_settings_that_are_not_an_object_are_ignored(tmp_path):
    meta = {**contract_metadata(), "stylize.training_settings": "[1, 2, 3]"}
    session = StyleSession(make_contract_model(tmp_path / "m.onnx", metadata=meta), "cpu")
    assert session.info.settings == {}


def test_a_model_with_a_fixed_frame_size_is_refused_when_loaded(tmp_path):
    onnx = pytest.importorskip("onnx")

    model = onnx.load(str(make_contract_model(tmp_path / "m.onnx")))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_value, dims[2].dim_value = 100000, 100000  # claims a frame no one can feed
    onnx.save(model, str(tmp_path / "fixed.onnx"))
    with pytest.raises(UserError, match="fixed frame size"):
        StyleSession(tmp_path / "fixed.onnx", "cpu")
