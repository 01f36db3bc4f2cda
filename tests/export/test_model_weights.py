import json

import pytest
import torch

from stylize import models
from stylize.cli import main
from stylize.export.checkpoint import load_checkpoint
from stylize.export.model_weights import net_from_model, warm_start_net
from stylize.export.nets import ARCHITECTURES, build_net
from stylize.export.onnx_export import export_net
from stylize.export.subpixel import subpixel_weight, upsample_conv_weight
from stylize.realtime.core import contract
from stylize.realtime.core.contract import build_metadata
from stylize.realtime.core.errors import UserError


def exported(tmp_path, arch: str, **settings) -> tuple[torch.nn.Module, object]:
    torch.manual_seed(0)
    net = build_net(arch, 0.25, 2).eval()
    with torch.no_grad():  # trained-looking norms, so that every parameter shows in the output
        for name, param in net.named_parameters():
            if "norm" in name:
                param.add_(0.3 * torch.randn_like(param))
    values = {"arch": arch, "width": 0.25, "residual_blocks": 2, **settings}
    path = tmp_path / f"{arch}.onnx"
    export_net(net, path, build_metadata(values, "s", arch, "none", contract.IO_UINT8_BGR))
    return net, path


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_the_subpixel_form_turns_back_into_the_kernel(mode):
    kernel = torch.randn(6, 5, 3, 3)
    assert torch.allclose(upsample_conv_weight(subpixel_weight(kernel, mode), mode), kernel, atol=1e-5)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_an_exported_net_reads_back_with_its_weights(tmp_path, arch):
    net, path = exported(tmp_path, arch)
    back, settings = net_from_model(path)
    assert (settings.arch, settings.width, settings.residual_blocks) == (arch, 0.25, 2)
    for name, value in net.state_dict().items():
        assert torch.allclose(back.state_dict()[name], value, atol=1e-5), name


def test_a_shipped_style_starts_a_run_by_name(tmp_path, photo_folder, style_image):
    net, settings = warm_start_net(models.DEFAULT_STYLE)
    run = tmp_path / "run"
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(run), "--steps", "1",
                 "--image-size", "32", "--batch-size", "2", "--held-out", "2", "--lr", "1e-9",
                 "--init-from", models.DEFAULT_STYLE, "--arch", settings.arch, "--width", str(settings.width),
                 "--residual-blocks", str(settings.residual_blocks)]) == 0
    trained = load_checkpoint(run)["net"]
    assert all(torch.allclose(trained[k], v, atol=1e-4) for k, v in net.state_dict().items())  # lr 1e-9: the start
    assert json.loads((run / "settings.json").read_text())["init_from"] == models.DEFAULT_STYLE


def test_models_training_cannot_start_from_are_refused_in_one_line(tmp_path, photo_folder, style_image, capsys):
    with pytest.raises(UserError, match="an int8 copy; start from the fp32 model"):
        net_from_model(models.INT8_DIR / f"{models.DEFAULT_STYLE}.onnx")
    with pytest.raises(UserError, match="the live any-painting model, where training starts by default"):
        net_from_model(models.LIVE_MODEL)
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(UserError, match="not an ONNX model"):
        net_from_model(tmp_path / "junk.onnx")
    with pytest.raises(UserError, match="no such model file"):
        net_from_model(tmp_path / "missing.onnx")
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(tmp_path / "run"),
                 "--init-from", str(tmp_path / "junk.onnx")]) == 2
    assert "junk.onnx: not an ONNX model" in capsys.readouterr().err
