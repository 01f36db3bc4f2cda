"""Files from elsewhere are data, never code: every torch file the tool reads refuses a pickle payload."""
from realtime.cli import main


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
