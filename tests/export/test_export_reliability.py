"""Files from elsewhere are data, never code: every torch file the tool reads refuses a pickle payload."""
from pathlib import Path

import pytest

from stylize.cli import main


def test_export_refuses_a_payload_checkpoint(tmp_path, payload, capsys):
    path, marker = payload
    assert main(["export", str(path), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "m.onnx").exists()


def test_resume_refuses_a_payload_checkpoint(tmp_path, payload, photo_folder, style_image, capsys):
    path, marker = payload
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(path.read_bytes())
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(run), "--resume",
                 "--steps", "2", "--backbone", "effnet-lite0"]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists()


def test_warm_start_refuses_a_payload_checkpoint(tmp_path, payload, photo_folder, style_image, capsys):
    path, marker = payload
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(tmp_path / "run"),
                 "--init-from", str(path), "--steps", "2", "--backbone", "effnet-lite0"]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists()


def test_import_refuses_a_payload_state_dict(tmp_path, payload, capsys):
    path, marker = payload
    assert main(["import", str(path), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "m.onnx").exists()


def test_backbone_weights_refuse_a_payload(tmp_path, payload, photo_folder, style_image, capsys):
    path, marker = payload
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(tmp_path / "run"),
                 "--steps", "2", "--backbone", "vgg16", "--backbone-weights", str(path)]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists()
    assert main(["gatys", "--content", str(style_image), "--style", str(style_image), "-o",
                 str(tmp_path / "g.png"), "--backbone", "vgg16", "--backbone-weights", str(path),
                 "--iterations", "1", "--size", "32"]) == 2
    assert not marker.exists() and not (tmp_path / "g.png").exists()


def test_no_verb_writes_over_its_input_even_with_overwrite(tmp_path, photo_folder, style_image, capsys):
    from stylize.export.train import train
    from tests.export.test_train_export import tiny_settings

    run = tmp_path / "run"
    train(tiny_settings(style_image, photo_folder, steps=1), run, progress=False)
    checkpoint = run / "checkpoint.pt"
    before = checkpoint.read_bytes()
    assert main(["export", str(checkpoint), "-o", str(checkpoint), "--overwrite"]) == 2
    (tmp_path / "link.onnx").symlink_to(checkpoint)
    assert main(["export", str(run), "-o", str(tmp_path / "link.onnx"), "--overwrite"]) == 2
    assert checkpoint.read_bytes() == before
    photo = style_image.read_bytes()
    assert main(["gatys", "--content", str(style_image), "--style", str(style_image), "-o", str(style_image),
                 "--overwrite", "--size", "32", "--iterations", "1", "--backbone", "effnet-lite0"]) == 2
    assert style_image.read_bytes() == photo
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(tmp_path / "r2"),
                 "--export", str(style_image), "--steps", "1", "--backbone", "effnet-lite0"]) == 2
    assert style_image.read_bytes() == photo
    err = capsys.readouterr().err
    assert err.count("would overwrite an input") == 4, err


def test_write_failures_are_messages_and_keep_the_previous_checkpoint(tmp_path, photo_folder, style_image,
                                                                       monkeypatch, capsys):
    import stylize.export.train as training
    from tests.export.test_train_export import tiny_settings

    run = tmp_path / "run"
    training.train(tiny_settings(style_image, photo_folder, steps=2, checkpoint_every=1), run, progress=False)
    before = (run / "checkpoint.pt").read_bytes()

    def full_disk(state, path):
        Path(path).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(training.torch, "save", full_disk)
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(run), "--resume",
                 "--steps", "3"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert (run / "checkpoint.pt").read_bytes() == before and not list(run.glob("*.partial"))


def test_export_on_a_full_disk_is_a_message_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    import onnx

    from stylize.export.nets import build_net
    from stylize.export.checkpoint import save_checkpoint
    from stylize.export.settings import TrainSettings

    save_checkpoint(tmp_path / "ck.pt", {"settings": TrainSettings(style="s.jpg", width=0.25).to_dict(),
                                         "net": build_net("fast", 0.25).state_dict(), "step": 1, "history": []})

    def full_disk(model, path, *args, **kwargs):
        Path(path).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx, "save", full_disk)
    assert main(["export", str(tmp_path / "ck.pt"), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]


def test_training_stops_at_a_non_finite_loss_and_saves_no_non_finite_weights(tmp_path, photo_folder, style_image,
                                                                             capsys):
    run = tmp_path / "run"
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(run),
                 "--backbone", "effnet-lite0", "--image-size", "32", "--batch-size", "1", "--width", "0.25",
                 "--checkpoint-every", "1", "--held-out", "1", "--steps", "3",
                 "--style-weight", "1e38", "--content-weight", "1e38"]) == 2
    err = capsys.readouterr().err
    assert "the loss became" in err and "nothing non-finite was saved" in err and "Traceback" not in err
    assert not (run / "checkpoint.pt").exists() and not (run / "loss_curve.png").exists()


def test_gatys_size_is_checked_against_the_pixel_limit(tmp_path, style_image, capsys):
    assert main(["--max-pixels", "10000", "gatys", "--content", str(style_image), "--style", str(style_image),
                 "-o", str(tmp_path / "g.png"), "--size", "512", "--iterations", "1"]) == 2
    assert "over the limit" in capsys.readouterr().err and not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda s: s.update(settings="fast"), "damaged checkpoint"),
    (lambda s: s.pop("step"), "damaged checkpoint"),
    (lambda s: s.update(net=[1, 2, 3]), "damaged checkpoint"),
    (lambda s: s["settings"].update(arch="vgg"), "impossible settings"),
    (lambda s: s["settings"].update(width=5000.0), "impossible settings"),
])
def test_damaged_checkpoints_are_clear_messages(tmp_path, photo_folder, style_image, damage, message, capsys):
    import torch

    from stylize.export.train import train
    from tests.export.test_train_export import tiny_settings

    run = tmp_path / "run"
    train(tiny_settings(style_image, photo_folder, steps=1), run, progress=False)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    damage(state)
    torch.save(state, tmp_path / "damaged.pt")
    assert main(["export", str(tmp_path / "damaged.pt"), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "m.onnx").exists()


def test_unreadable_held_out_photos_are_skipped(tmp_path, photo_folder, style_image):
    from stylize.export.train import train
    from tests.export.test_train_export import tiny_settings

    for path in sorted(photo_folder.rglob("*.png"))[:2]:  # the held-out photos come first
        path.write_bytes(b"not an image")
    train(tiny_settings(style_image, photo_folder, steps=2), tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_gatys_refuses_a_style_image_too_narrow_for_the_network(tmp_path, style_image, capsys):
    import cv2
    import numpy as np

    narrow = tmp_path / "narrow.png"
    cv2.imwrite(str(narrow), np.full((2, 400, 3), 128, np.uint8))
    assert main(["gatys", "--content", str(style_image), "--style", str(narrow), "-o", str(tmp_path / "g.png"),
                 "--iterations", "1", "--size", "64", "--backbone", "effnet-lite0"]) == 2
    err = capsys.readouterr().err
    assert "too narrow" in err and "Traceback" not in err


def test_export_refuses_a_checkpoint_of_non_finite_weights(tmp_path, photo_folder, style_image, capsys):
    import torch

    from stylize.export.train import train
    from tests.export.test_train_export import tiny_settings

    run = tmp_path / "run"
    train(tiny_settings(style_image, photo_folder, steps=1), run, progress=False)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state["net"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state["net"].items()}
    torch.save(state, tmp_path / "nan.pt")
    assert main(["export", str(tmp_path / "nan.pt"), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "not finite" in capsys.readouterr().err and not (tmp_path / "m.onnx").exists()


def test_import_refuses_a_model_onnxruntime_cannot_run(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Paint", ["image"], ["out"], domain="com.example.custom")], "custom",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, "h", "w"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example.custom", 1)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "custom.onnx"))
    assert main(["import", str(tmp_path / "custom.onnx"), "-o", str(tmp_path / "wrapped.onnx")]) == 2
    err = capsys.readouterr().err
    assert "onnxruntime cannot load" in err and "Traceback" not in err and not (tmp_path / "wrapped.onnx").exists()
