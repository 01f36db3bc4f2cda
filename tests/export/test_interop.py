import numpy as np
import pytest
import torch

from export.nets import PyTorchExampleNet
from realtime.cli import main
from realtime.session import StyleSession


def example_checkpoint(path, stale_keys: bool):
    torch.manual_seed(1)
    net = PyTorchExampleNet()
    state = net.state_dict()
    if stale_keys:  # as saved by PyTorch < 0.4
        for name, module in net.named_modules():
            if isinstance(module, torch.nn.InstanceNorm2d):
                state[f"{name}.running_mean"] = torch.zeros(module.num_features)
                state[f"{name}.running_var"] = torch.ones(module.num_features)
    torch.save(state, path)
    return net.eval()


@pytest.mark.parametrize("stale_keys", [False, True])
def test_pytorch_example_checkpoint_converts_and_matches(tmp_path, stale_keys):
    net = example_checkpoint(tmp_path / "mosaic.pth", stale_keys)
    out = tmp_path / "mosaic.onnx"
    assert main(["import", str(tmp_path / "mosaic.pth"), "-o", str(out)]) == 0
    session = StyleSession(out, "cpu")
    assert session.info.style == "mosaic" and session.info.architecture == "pytorch-example"
    assert "fast_neural_style" in session.info.metadata["stylize.source"]
    frame = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    with torch.no_grad():
        rgb = torch.from_numpy(frame[:, :, ::-1].copy()).permute(2, 0, 1)[None].float()
        padded = torch.nn.functional.pad(rgb / 255, [0, 3, 0, 3], mode="replicate")
        expected = (net(padded)[:, :, :37, :53] * 255).round()[0].permute(1, 2, 0).numpy()[:, :, ::-1]
    assert np.abs(session.run(frame).astype(int) - expected).max() <= 1


def test_import_rejects_foreign_files(tmp_path, capsys):
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    assert main(["import", str(tmp_path / "other.pth"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "not a fast-neural-style TransformerNet" in capsys.readouterr().err
    (tmp_path / "junk.pth").write_bytes(b"junk")
    assert main(["import", str(tmp_path / "junk.pth"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert not (tmp_path / "x.onnx").exists()
