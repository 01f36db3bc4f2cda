"""int8 copies: equalization before the norms, the PSNR floor, and `stylize export --int8`."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from stylize.cli import main
from stylize.export.nets import ARCHITECTURES, build_net
from stylize.export.onnx_export import export_net
from stylize.realtime.graph.quantize import INT8_MIN_PSNR, MAX_CHANNEL_GAIN, equalize_before_norms, psnr, quantize_model
from stylize.realtime.core import contract
from stylize.realtime.core.contract import build_metadata
from stylize.realtime.core.errors import UserError
from stylize.realtime.core.session import StyleSession


def frames(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:64]
    return [np.clip(np.stack([xx * (i + 2), yy * 4 + 20 * i, (xx + yy) * 2], -1) + rng.normal(0, 8, (48, 64, 3)),
                    0, 255).astype(np.uint8) for i in range(count)]


def exported(tmp_path, arch: str, wide_channel: bool = False):
    """A contract model of a random ``arch`` net; ``wide_channel``: channel 0 of a conv in the middle (an
    int8 one) spans 30x more than the others (its instance norm hides that from the fp32 model), so one
    uint8 scale for the conv's output leaves the other channels few steps."""
    torch.manual_seed(0)
    net = build_net(arch, 0.5).eval()
    if wide_channel:
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        conv = convs[len(convs) // 2]
        with torch.no_grad():
            conv.weight[0] *= 30
            conv.bias[0] *= 30
    path = tmp_path / f"{arch}.onnx"
    export_net(net, path, build_metadata({}, "s", arch, "none", contract.IO_UINT8_BGR))
    return path


def conv_outputs_before_norms(model: onnx.ModelProto, feeds: list[dict]) -> list[np.ndarray]:
    """Per-channel spread (max |x - channel mean|) of every conv output that feeds an instance norm."""
    from stylize.realtime.graph.quantize import _convs_before_norms

    targets = _convs_before_norms(model.graph)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(onnx.helper.make_tensor_value_info(n.output[0], onnx.TensorProto.FLOAT, None)
                              for n, _, _ in targets)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    runs = [session.run([n.output[0] for n, _, _ in targets], f) for f in feeds]
    spreads = []
    for i, (_, groups, _) in enumerate(targets):
        out = np.concatenate([r[i] for r in runs])
        per_channel = out.reshape(out.shape[0], out.shape[1] // groups, groups, -1).transpose(1, 0, 2, 3)
        per_channel = per_channel.reshape(per_channel.shape[0], -1)
        spreads.append(np.abs(per_channel - per_channel.mean(1, keepdims=True)).max(1))
    return spreads


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_equalizing_before_the_norms_keeps_the_fp32_model_and_evens_the_channels(tmp_path, arch):
    path = exported(tmp_path, arch, wide_channel=True)
    feeds = [{contract.INPUT_FRAME: f[None]} for f in frames(4)]
    model = onnx.load(str(path))
    before = conv_outputs_before_norms(model, feeds)
    assert before and max(s.max() / s.min() for s in before) > 10  # the wide channel is there
    equalized = equalize_before_norms(model, feeds)
    onnx.save(equalized, str(tmp_path / "eq.onnx"))
    after = conv_outputs_before_norms(equalized, feeds)
    evened = [np.isclose(spread, spread.max(), rtol=0.02) for spread in after]
    kept = [np.isclose(spread, original, rtol=0.02) for spread, original in zip(after, before)]
    # a channel is brought to its conv's widest one, or left as it is (too narrow, or its norm's epsilon matters)
    assert all((e | k).all() for e, k in zip(evened, kept))
    assert np.mean(np.concatenate(evened)) > 0.9 and max(s.max() / s.min() for s in after) < MAX_CHANNEL_GAIN
    fp32, eq = StyleSession(path, "cpu"), StyleSession(tmp_path / "eq.onnx", "cpu")
    for frame in frames(3, seed=1):  # a random net's small variances give the epsilon a say: a level or two
        difference = np.abs(fp32.run(frame).astype(int) - eq.run(frame))
        assert difference.max() <= 2 and difference.mean() < 0.1


def test_equalizing_gives_the_int8_copy_of_a_wide_channel_net_a_finer_step(tmp_path, monkeypatch):
    import stylize.realtime.graph.quantize as quantize

    path = exported(tmp_path, "fast", wide_channel=True)
    feeds = [{contract.INPUT_FRAME: f[None]} for f in frames(6)]
    check = [{contract.INPUT_FRAME: f[None]} for f in frames(3, seed=2)]
    with_eq = quantize_model(path, tmp_path / "eq.onnx", feeds, check, min_psnr=0)
    monkeypatch.setattr(quantize, "equalize_before_norms", lambda model, calibration: model)
    without = quantize_model(path, tmp_path / "plain.onnx", feeds, check, min_psnr=0)
    assert with_eq > without + 1


def test_an_int8_copy_under_the_floor_is_refused_and_nothing_written(tmp_path):
    path = exported(tmp_path, "fast")
    feeds = [{contract.INPUT_FRAME: f[None]} for f in frames(3)]
    with pytest.raises(UserError, match="too far from fp32"):
        quantize_model(path, tmp_path / "int8.onnx", feeds, min_psnr=200)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fast.onnx"]


def test_export_int8_from_the_cli_is_calibrated_verified_and_labelled(tmp_path, photo_folder, style_image, capsys):
    run, fp32, int8 = tmp_path / "run", tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(run), "--steps", "2",
                 "--width", "0.5", "--image-size", "32", "--batch-size", "2", "--held-out", "2",
                 "--export", str(fp32)]) == 0
    assert main(["export", str(run), "-o", str(int8), "--int8"]) == 0  # calibrated on the run's photos
    assert "dB PSNR against the fp32 model" in capsys.readouterr().err
    session = StyleSession(int8, "cpu")
    assert session.info.metadata[contract.META_PRECISION] == "int8" and session.info.style == "stripes"
    assert any(n.op_type == "QLinearConv" for n in onnx.load(str(int8)).graph.node)
    frame = frames(1, seed=3)[0]
    assert psnr(session.run(frame), StyleSession(fp32, "cpu").run(frame)) > INT8_MIN_PSNR - 10
    assert np.array_equal(session.run(frame, 0.0), frame)


@pytest.mark.parametrize("extra, message", [
    (["--fp16"], "not with --fp16"),
    (["--calibration", "nowhere"], "no such folder of calibration photos"),
])
def test_bad_int8_exports_are_messages(tmp_path, photo_folder, style_image, capsys, extra, message):
    run = tmp_path / "run"
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(run), "--steps", "1",
                 "--width", "0.25", "--image-size", "32", "--batch-size", "2", "--held-out", "2"]) == 0
    capsys.readouterr()
    assert main(["export", str(run), "-o", str(tmp_path / "m.onnx"), "--int8", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
    assert main(["export", str(run), "-o", str(tmp_path / "m.onnx"), "--calibration", str(photo_folder)]) == 2
    assert "--calibration is for --int8" in capsys.readouterr().err



@pytest.mark.parametrize("arch,blurs", [("fast", 0), ("fast-aa", 3), ("fast-smooth", 4)])
def test_the_fixed_blurs_of_an_anti_aliased_net_stay_in_float(tmp_path, arch, blurs):
    """fast-aa's three binomial blurs are found and left in float; the outermost learned convs are
    counted without them (the stem conv after the first blur stays float, as a plain net's stem does)."""
    from stylize.realtime.graph.quantize import fixed_blurs

    path = exported(tmp_path, arch)
    found = fixed_blurs(onnx.load(str(path)).graph)
    assert len(found) == blurs
    feeds = [{contract.INPUT_FRAME: f[None]} for f in frames(4)]
    quantize_model(path, tmp_path / "int8.onnx", feeds, min_psnr=0)
    nodes = onnx.load(str(tmp_path / "int8.onnx")).graph.node
    float_convs = [n for n in nodes if n.op_type == "Conv"]
    assert {n.name for n in float_convs} >= set(found)
    stem = next(n for n in nodes if n.op_type in ("Conv", "QLinearConv") and n.name not in found)
    assert stem.op_type == "Conv"
