import json

import numpy as np
import onnx
import pytest
import torch

from stylize.export.nets import ARCHITECTURES, build_net
from stylize.export.onnx_export import UINT8_TOLERANCE, VERIFY_SIZES, export_checkpoint, export_net
from stylize.realtime.core.contract import build_metadata
from stylize.export.losses import build_loss_network, training_taps
from stylize.export.settings import TrainSettings
from stylize.export.checkpoint import load_checkpoint, net_from_checkpoint
from stylize.export.train import train
from stylize.realtime.core import contract
from stylize.cli import main
from stylize.realtime.core.errors import UserError
from stylize.realtime.core.session import StyleSession


def tiny_settings(style, data, **overrides) -> TrainSettings:
    values = dict(style=str(style), data=str(data), width=0.25, steps=6, batch_size=2, image_size=32,
                  style_size=64, checkpoint_every=3, preview_every=3, held_out=2, style_weight=5.0, lr=5e-3,
                  backbone="effnet-lite0", border_weight=0.0,
                  residual_blocks=5)  # the shape the DDP tolerance (test_distributed) was measured at
    values.update(overrides)
    return TrainSettings(**values)


def test_training_lowers_the_loss_and_writes_its_artifacts(tmp_path, photo_folder, style_image):
    run = tmp_path / "run"
    ckpt = train(tiny_settings(style_image, photo_folder, steps=30, checkpoint_every=10, preview_every=15), run,
                 progress=False)
    history = load_checkpoint(ckpt)["history"]
    first, last = np.mean([r["total"] for r in history[:5]]), np.mean([r["total"] for r in history[-5:]])
    assert last < first
    assert (run / "loss_curve.png").is_file()
    assert sorted(p.name for p in (run / "previews").iterdir()) == ["step_000015.png", "step_000030.png"]
    assert json.loads((run / "settings.json").read_text())["steps"] == 30


def test_resume_matches_an_uninterrupted_run(tmp_path, photo_folder, style_image):
    full = train(tiny_settings(style_image, photo_folder), tmp_path / "full", progress=False)
    # a run killed after its checkpoint at step 3, then resumed
    train(tiny_settings(style_image, photo_folder, steps=3), tmp_path / "resumed", progress=False)
    resumed = train(tiny_settings(style_image, photo_folder), tmp_path / "resumed", resume=True, progress=False)
    a, b = load_checkpoint(full), load_checkpoint(resumed)
    assert b["step"] == a["step"] == 6
    for key in a["net"]:
        assert torch.equal(a["net"][key], b["net"][key]), key
    assert [r["total"] for r in a["history"]] == [r["total"] for r in b["history"]]


def test_training_is_deterministic_for_a_seed(tmp_path, photo_folder, style_image):
    a = load_checkpoint(train(tiny_settings(style_image, photo_folder, steps=2), tmp_path / "a", progress=False))
    b = load_checkpoint(train(tiny_settings(style_image, photo_folder, steps=2), tmp_path / "b", progress=False))
    assert all(torch.equal(a["net"][k], b["net"][k]) for k in a["net"])


def test_an_existing_run_is_not_overwritten(tmp_path, photo_folder, style_image):
    run = tmp_path / "run"
    train(tiny_settings(style_image, photo_folder, steps=3), run, progress=False)
    before = (run / "checkpoint.pt").read_bytes()
    with pytest.raises(UserError, match="--resume"):
        train(tiny_settings(style_image, photo_folder), run, progress=False)
    assert (run / "checkpoint.pt").read_bytes() == before


def test_unreadable_training_images_are_skipped_and_counted(tmp_path, photo_folder, style_image):
    for i in range(3):
        (photo_folder / f"zz_broken{i}.jpg").write_bytes(b"garbage")
    run = tmp_path / "run"
    train(tiny_settings(style_image, photo_folder, steps=20), run, progress=False)
    assert len(json.loads((run / "summary.json").read_text())["unreadable_images"]) >= 1


@pytest.mark.parametrize("case,message", [
    ("missing_style", "no such image file"),
    ("corrupt_style", "not a readable image"),
    ("empty_data", "found 0 image files"),
    ("no_images", "found 0 image files"),
    ("missing_data", "no such folder"),
])
def test_bad_training_input(tmp_path, photo_folder, style_image, case, message, capsys):
    style, data = style_image, photo_folder
    if case == "missing_style":
        style = tmp_path / "nope.jpg"
    elif case == "corrupt_style":
        style = tmp_path / "corrupt.jpg"
        style.write_bytes(b"\xff\xd8 not really")
    elif case == "empty_data":
        data = tmp_path / "empty"
        data.mkdir()
    elif case == "no_images":
        data = tmp_path / "docs"
        data.mkdir()
        (data / "a.txt").write_text("text")
    elif case == "missing_data":
        data = tmp_path / "absent"
    code = main(["train", "--style", str(style), "--data", str(data), "-o", str(tmp_path / "run"), "--steps", "2"])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_missing_vgg_weights_is_a_clear_error(tmp_path, photo_folder, style_image, capsys):
    code = main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(tmp_path / "run"),
                 "--backbone", "vgg16", "--steps", "2"])
    assert code == 2
    assert "stylize weights install vgg16" in capsys.readouterr().err


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("io_layout", contract.IO_LAYOUTS)
def test_export_matches_torch_at_several_sizes(tmp_path, arch, io_layout):
    torch.manual_seed(0)
    net = build_net(arch, 0.25)
    meta = build_metadata({"arch": arch}, "random", arch, "none", io_layout)
    errors = export_net(net, tmp_path / "m.onnx", meta, io_layout)
    assert len(errors) == len(VERIFY_SIZES) + 1
    assert max(errors.values()) <= UINT8_TOLERANCE
    model = onnx.load(str(tmp_path / "m.onnx"))
    props = {p.key: p.value for p in model.metadata_props}
    assert props[contract.META_ARCH] == arch and props[contract.META_IO] == io_layout
    session = StyleSession(tmp_path / "m.onnx", "cpu")  # runs in realtime/ unchanged
    frame = np.random.default_rng(0).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    assert session.run(frame).shape == (3, 5, 3)
    assert np.array_equal(session.run(frame, 0.0), frame)
    # the CPU graph rewrites replace every pixel shuffle and keep every pixel
    as_file = StyleSession(tmp_path / "m.onnx", "cpu", cpu_rewrites=False)
    assert session.cpu_rewrites == sum(n.op_type == "DepthToSpace" for n in model.graph.node)
    frame = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    assert np.array_equal(session.run(frame), as_file.run(frame))


@pytest.mark.parametrize("arch,reflection_pads,edge_pads", [("fast", 0, 2), ("fast-v2", 14, 4), ("fast-aa", 3, 4),
                                                                  ("fast-smooth", 4, 4)])
def test_the_fast_net_exports_without_upsampling_or_pad_nodes(tmp_path, arch, reflection_pads, edge_pads):
    """What makes the fast net fast on onnxruntime: no Resize (sub-pixel convs instead, bilinear ones
    too) and no reflection Pad nodes (zeros inside the convs); only the contract's and the box filter's
    edge pads, plus fast-v2's and fast-aa's sub-pixel convs' edge pads and the reflection pads of fast-aa's
    three blurs (fast-smooth's four)."""
    export_net(build_net(arch, 0.25), tmp_path / "m.onnx", build_metadata({}, "random", arch, "none", contract.IO_UINT8_BGR))
    nodes = onnx.load(str(tmp_path / "m.onnx")).graph.node
    modes = [next((a.s for a in n.attribute if a.name == "mode"), b"constant") for n in nodes if n.op_type == "Pad"]
    assert modes.count(b"reflect") == reflection_pads
    assert modes.count(b"edge") == edge_pads
    assert not [n for n in nodes if n.op_type == "Resize"]


def test_export_refuses_to_overwrite_and_leaves_nothing_on_failure(tmp_path, monkeypatch):
    net = build_net("fast", 0.25)
    meta = build_metadata({}, "s", "fast", "none", contract.IO_UINT8_BGR)
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")
    with pytest.raises(UserError, match="--overwrite"):
        export_net(net, target, meta)
    assert target.read_bytes() == b"old"
    import stylize.export.onnx_export as ox

    monkeypatch.setattr(ox, "UINT8_TOLERANCE", -1)  # every comparison now fails
    with pytest.raises(UserError, match="export check failed"):
        export_net(net, target, meta, overwrite=True)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_train_then_export_from_the_cli_round_trips_metadata(tmp_path, photo_folder, style_image, capsys):
    run, model = tmp_path / "run", tmp_path / "stripes.onnx"
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(run), "--steps", "3",
                 "--width", "0.25", "--image-size", "32", "--batch-size", "2", "--held-out", "2",
                 "--export", str(model)]) == 0
    info = StyleSession(model, "cpu").info
    assert info.style == "stripes" and info.architecture == "fast" and info.backbone == "effnet-lite0"
    assert info.settings["steps"] == 3 and info.settings["width"] == 0.25 and info.settings["trained_steps"] == 3
    assert info.settings["residual_blocks"] == 4  # the default resolved: the model says the shape it has
    assert main(["export", str(run), "-o", str(tmp_path / "f.onnx"), "--io", "float-rgb"]) == 0
    assert StyleSession(tmp_path / "f.onnx", "cpu").info.io_layout == contract.IO_FLOAT_RGB
    assert main(["models", "--model", str(model)]) == 0
    assert "stripes" in capsys.readouterr().out


def test_checkpoint_of_another_architecture(tmp_path, photo_folder, style_image, capsys):
    ckpt = train(tiny_settings(style_image, photo_folder, steps=1), tmp_path / "run", progress=False)
    state = load_checkpoint(ckpt)
    state["settings"]["arch"] = "johnson"
    torch.save(state, tmp_path / "mixed.pt")
    with pytest.raises(UserError, match="do not fit architecture 'johnson'"):
        net_from_checkpoint(load_checkpoint(tmp_path / "mixed.pt"))
    assert main(["export", str(tmp_path / "mixed.pt"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "do not fit architecture" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"junk")
    assert main(["export", str(tmp_path / "junk.pt"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "not a readable training checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_fp16_export_is_verified_against_fp32_and_runs(tmp_path, arch):
    from stylize.export.onnx_export import FP16_MIN_PSNR

    torch.manual_seed(0)
    net = build_net(arch, 0.5)
    meta = build_metadata({}, "s", arch, "none", contract.IO_UINT8_BGR)
    export_net(net, tmp_path / "fp32.onnx", meta)
    psnrs = export_net(net, tmp_path / "fp16.onnx", meta, fp16=True)
    assert min(psnrs.values()) >= FP16_MIN_PSNR
    weights = onnx.load(str(tmp_path / "fp16.onnx")).graph.initializer
    conv_weights = [w for w in weights if len(w.dims) == 4]
    assert conv_weights and all(w.data_type == onnx.TensorProto.FLOAT16 for w in conv_weights)
    session = StyleSession(tmp_path / "fp16.onnx", "cpu")
    assert session.info.metadata[contract.META_PRECISION] == "fp16"
    frame = np.random.default_rng(0).integers(0, 256, (41, 63, 3), dtype=np.uint8)
    reference = StyleSession(tmp_path / "fp32.onnx", "cpu").run(frame)
    assert np.abs(session.run(frame).astype(int) - reference).mean() < 2


def test_temporal_term_lowers_noise_flicker(tmp_path, photo_folder, style_image):
    from stylize.export.data import bgr_to_tensor, tensor_to_bgr
    from stylize.realtime.flicker import noise_flicker

    def flicker(temporal_weight, name):
        ckpt = train(tiny_settings(style_image, photo_folder, steps=25, temporal_weight=temporal_weight, image_size=48,
                                   checkpoint_every=25, preview_every=25), tmp_path / name, progress=False)
        net, _ = net_from_checkpoint(load_checkpoint(ckpt))
        with torch.no_grad():
            return noise_flicker(lambda f: tensor_to_bgr(net(bgr_to_tensor([f])))[0],
                                 cv2.imread(str(sorted(photo_folder.glob("*.png"))[0])))

    import cv2

    plain, steady = flicker(0.0, "plain"), flicker(1.0, "steady")
    assert steady < 0.9 * plain, (steady, plain)  # deterministic: training on the CPU is seeded


def test_colour_term_brings_the_palette_closer_to_the_painting(tmp_path, photo_folder, style_image):
    from stylize.export.data import bgr_to_tensor, resize_longer_side
    from stylize.export.losses import colour_loss, colour_statistics
    from stylize.realtime.core.images import read_image

    painting = colour_statistics(bgr_to_tensor([resize_longer_side(read_image(style_image), 64)]))[0]
    photos = bgr_to_tensor([read_image(p) for p in sorted(photo_folder.glob("*.png"))[:2]])

    def colour_distance(colour_weight, name):
        ckpt = train(tiny_settings(style_image, photo_folder, steps=20, colour_weight=colour_weight, image_size=48,
                                   checkpoint_every=20, preview_every=20), tmp_path / name, progress=False)
        net, _ = net_from_checkpoint(load_checkpoint(ckpt))
        with torch.no_grad():
            return float(colour_loss(net(photos), painting)), load_checkpoint(ckpt)["history"]

    plain, _ = colour_distance(0.0, "plain")
    matched, history = colour_distance(50.0, "matched")
    assert all(record["colour"] > 0 for record in history)
    assert matched < 0.8 * plain, (matched, plain)  # deterministic: training on the CPU is seeded


def test_border_term_sees_a_band_painted_along_the_edge():
    from stylize.export.perceptual import border_loss

    frames = torch.rand(2, 3, 64, 64)

    def banded(x: torch.Tensor) -> torch.Tensor:  # paints the top rows orange whatever the picture shows
        x = x.clone()
        x[:, :, :6] = torch.tensor([1.0, 0.5, 0.0])[:, None, None]
        return x

    assert border_loss(lambda x: x, frames, frames, 16) == 0  # no trace of the edge
    assert border_loss(banded, frames, banded(frames), 16) > 0.5


def test_noise_term_measures_the_change_camera_noise_makes():
    """1 for a net that passes the noise on, 0 for one that ignores it, 3 for one that triples it."""
    from stylize.export.perceptual import noise_loss

    frames, noise = torch.rand(2, 3, 32, 32) * 0.8 + 0.1, torch.randn(2, 3, 32, 32) * 2 / 255

    def tripled(x: torch.Tensor) -> torch.Tensor:
        return 3 * x

    assert noise_loss(lambda x: x, frames, frames, noise) == pytest.approx(1.0, rel=1e-4)
    assert noise_loss(lambda x: torch.full_like(x, 0.5), frames, torch.full_like(frames, 0.5), noise) == 0
    assert noise_loss(tripled, frames, tripled(frames), noise) == pytest.approx(3.0, rel=1e-4)


def test_motion_term_measures_how_far_the_painting_fails_to_follow_the_camera():
    """About 1 for a net that follows every move and passes the noise on; far more for one whose
    painting stays put (a fixed pattern) while the camera moves; 0 for a flat painting."""
    from stylize.export.perceptual import motion_loss, random_motions

    rng = np.random.default_rng(0)
    frames, noise = torch.rand(2, 3, 64, 64) * 0.8 + 0.1, torch.randn(2, 3, 64, 64) * 2 / 255
    motions = random_motions(2, 64, rng)
    assert motions.shape == (2, 2, 3) and not torch.allclose(motions, random_motions(2, 64, rng))
    pattern = torch.rand(1, 3, 64, 64)

    def fixed_pattern(x: torch.Tensor) -> torch.Tensor:  # texture glued to the frame, not to the scene
        return 0.5 * x + 0.5 * pattern

    assert motion_loss(lambda x: x, frames, frames, noise, motions, 8) == pytest.approx(1.0, abs=0.05)
    flat = torch.full_like(frames, 0.5)
    assert motion_loss(lambda x: torch.full_like(x, 0.5), frames, flat, noise, motions, 8) < 1e-5
    assert motion_loss(fixed_pattern, frames, fixed_pattern(frames), noise, motions, 8) > 5
    assert motion_loss(lambda x: x, frames, frames, noise, motions, 0) == pytest.approx(1.0, abs=0.1)  # no margin


def test_training_with_the_border_term(tmp_path, photo_folder, style_image):
    ckpt = train(tiny_settings(style_image, photo_folder, steps=2, image_size=64, border_weight=1.0), tmp_path / "run",
                 progress=False)
    assert all(record["border"] > 0 for record in load_checkpoint(ckpt)["history"])
    small = train(tiny_settings(style_image, photo_folder, steps=1, image_size=32, border_weight=1.0),
                  tmp_path / "small", progress=False)  # the smallest crops: a narrower band
    assert load_checkpoint(small)["history"][0]["border"] > 0


def test_training_with_a_vgg_loss_network_from_a_weights_file(tmp_path, photo_folder, style_image):
    import torchvision

    weights = tmp_path / "vgg16-features.pth"
    features = torchvision.models.vgg16(weights=None).features.state_dict()
    torch.save({f"features.{k}": v for k, v in features.items()}, weights)  # random weights, real loading path
    run = tmp_path / "run"
    train(tiny_settings(style_image, photo_folder, steps=2, backbone="vgg16", style_layers="relu2_2,relu4_3"), run,
          backbone_weights=str(weights), progress=False)
    saved = load_checkpoint(run / "checkpoint.pt")["settings"]
    assert saved["backbone"] == "vgg16" and saved["style_layers"] == "relu2_2,relu4_3"


def test_style_layers_choose_the_gram_layers_and_bad_ones_are_clear_errors(tmp_path, photo_folder, style_image,
                                                                          capsys):
    taps = training_taps("vgg16", " relu2_2, relu3_3 ,relu4_3")
    assert taps == (("relu2_2", "relu3_3", "relu4_3"), ("relu2_2",))
    assert training_taps("vgg16", "") is None
    net = build_loss_network("vgg16", pretrained=False, taps=taps)
    assert net.style_layers == taps[0] and set(net(torch.rand(1, 3, 32, 32))) == {"relu2_2", "relu3_3", "relu4_3"}
    for layers, backbone, message in [("relu9_9", "vgg16", "vgg16 has no layer relu9_9"),
                                      ("block2", "effnet-lite0", "--style-layers needs a VGG loss network")]:
        code = main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(tmp_path / "run"),
                     "--backbone", backbone, "--style-layers", layers, "--steps", "2"])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err


def test_warm_start_begins_from_the_given_run(tmp_path, photo_folder, style_image, capsys):
    source = train(tiny_settings(style_image, photo_folder, steps=3), tmp_path / "source", progress=False)
    warm = train(tiny_settings(style_image, photo_folder, steps=1, lr=1e-9, init_from=str(tmp_path / "source")),
                 tmp_path / "warm", progress=False)
    a, b = load_checkpoint(source)["net"], load_checkpoint(warm)
    assert all(torch.allclose(a[k], b["net"][k], atol=1e-6) for k in a)
    assert b["settings"]["init_from"] == str(tmp_path / "source")
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(tmp_path / "j"),
                 "--arch", "johnson", "--init-from", str(source), "--steps", "1", "--backbone", "effnet-lite0"]) == 2
    assert "but this run trains johnson" in capsys.readouterr().err


@pytest.mark.parametrize("earlier,old_net", [("fast-v1", lambda: build_net("fast-v1", 0.5)),
                                              ("fast-v2", lambda: build_net("fast", 0.5))])
def test_checkpoints_of_the_earlier_fast_nets_still_export(tmp_path, earlier, old_net):
    """Format-1 checkpoints say "fast" for the nets before today's: v1 (a colour skip) and v2 (the
    same weights as today's, with reflection padding); both are recognised and export as made."""
    from stylize.export.checkpoint import save_checkpoint

    settings = TrainSettings(style="old.jpg", arch="fast", width=0.5)
    weights = old_net().state_dict()
    save_checkpoint(tmp_path / "old.pt", {"settings": settings.to_dict(), "net": weights, "step": 10, "history": []})
    net, loaded = net_from_checkpoint(load_checkpoint(tmp_path / "old.pt"))
    assert loaded.arch == earlier
    assert all(torch.equal(net.state_dict()[k], v) for k, v in weights.items())
    assert any(isinstance(m, torch.nn.ReflectionPad2d) for m in net.modules())  # as both were trained
    export_checkpoint(tmp_path / "old.pt", tmp_path / "old.onnx")
    assert StyleSession(tmp_path / "old.onnx", "cpu").info.architecture == earlier


def test_a_checkpoint_from_before_the_block_setting_exports_with_the_blocks_its_weights_hold(tmp_path):
    """Format-2 checkpoints of the fast net have five residual blocks and no residual_blocks setting;
    today's default is four: the count comes from the weights."""
    from stylize.export.checkpoint import CHECKPOINT_FORMAT, save_checkpoint

    settings = TrainSettings(style="old.jpg", arch="fast", width=0.5).to_dict()
    del settings["residual_blocks"]
    weights = build_net("fast", 0.5, 5).state_dict()
    save_checkpoint(tmp_path / "old.pt", {"format": CHECKPOINT_FORMAT, "settings": settings, "net": weights,
                                          "step": 10, "history": []})
    net, loaded = net_from_checkpoint(load_checkpoint(tmp_path / "old.pt"))
    assert (loaded.arch, loaded.residual_blocks, len(net.body)) == ("fast", 5, 5)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in weights.items())
    export_checkpoint(tmp_path / "old.pt", tmp_path / "old.onnx")
    assert StyleSession(tmp_path / "old.onnx", "cpu").info.settings["residual_blocks"] == 5


def test_every_architecture_has_a_default_shape_and_zero_asks_for_it():
    from stylize.export.nets import DEFAULT_SHAPES, resolved_shape

    assert set(DEFAULT_SHAPES) == set(ARCHITECTURES)
    assert resolved_shape("fast") == (0.75, 4) and resolved_shape("johnson", 0.5) == (0.5, 5)
    assert len(build_net("fast").body) == 4 and build_net("fast").encoder[0].conv.out_channels == 12
    assert len(build_net("johnson", 0.25, 2).body) == 2


def test_a_fast_v2_run_resumes_as_fast_v2_and_warm_starts_a_fast_net(tmp_path, photo_folder, style_image):
    old = train(tiny_settings(style_image, photo_folder, arch="fast-v2", steps=2), tmp_path / "old", progress=False)
    state = load_checkpoint(old)
    state.pop("format")  # as written before the zero-padded net existed, with the name it had then
    state["settings"]["arch"] = "fast"
    torch.save(state, old)
    resumed = train(tiny_settings(style_image, photo_folder, steps=3), tmp_path / "old", resume=True, progress=False)
    assert load_checkpoint(resumed)["settings"]["arch"] == "fast-v2"
    warm = train(tiny_settings(style_image, photo_folder, steps=1, lr=1e-9, init_from=str(old)), tmp_path / "new",
                 progress=False)
    new = load_checkpoint(warm)
    assert new["settings"]["arch"] == "fast"
    net, _ = net_from_checkpoint(new)
    assert not any(isinstance(m, torch.nn.ReflectionPad2d) for m in net.modules())
    assert all(torch.allclose(v, new["net"][k], atol=1e-6) for k, v in load_checkpoint(resumed)["net"].items())


def test_zoom_crops_close_ups_enlarged_smoothly(tmp_path):
    """--zoom 4 shows the net close-ups of a photo, smoothly enlarged (as flat areas look in HD frames);
    the default crops whole scenes."""
    import cv2
    from stylize.export.data import PhotoFolder

    folder = tmp_path / "photos"
    folder.mkdir()
    ramp = np.tile(np.linspace(0, 255, 80), (80, 1))  # 3.2 grey levels a pixel, left to right
    for i in range(2):
        cv2.imwrite(str(folder / f"ramp{i}.png"), np.repeat(ramp[:, :, None], 3, 2).astype(np.uint8))
    photos = PhotoFolder(folder, held_out=0)
    rng = np.random.default_rng(0)

    def spans_and_steps(zoom):
        crops = [c[:, :, 0].astype(float) for c in photos.random_crops(rng, 20, 192, zoom)]
        return np.mean([np.ptp(c[96]) for c in crops]), max(np.abs(np.diff(c[96])).max() for c in crops)

    whole, whole_steps = spans_and_steps(1.5)
    close, close_steps = spans_and_steps(4.0)
    assert whole > 0.7 * 255 and close < 0.6 * 255  # close-ups span less of the photo
    assert max(whole_steps, close_steps) <= 2  # enlarged smoothly, not in blocks of repeated pixels


def test_training_ends_by_saying_how_close_the_model_and_the_live_model_come(tmp_path, photo_folder, style_image,
                                                                             capsys):
    import torchvision

    weights = tmp_path / "vgg16_features.pth"  # random weights stand in for ImageNet's (none in tests)
    torch.save({k: v for k, v in torchvision.models.vgg16(weights=None).state_dict().items()
                if k.startswith("features.")}, weights)
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(tmp_path / "run"),
                 "--steps", "1", "--image-size", "32", "--batch-size", "1", "--held-out", "2", "--backbone", "vgg16",
                 "--backbone-weights", str(weights), "--export", str(tmp_path / "m.onnx")]) == 0
    err = capsys.readouterr().err
    line = next(l for l in err.splitlines() if l.startswith("painting distance over 2 held-out photos"))
    assert "the live model with this painting" in line
    assert main(["train", "--style", str(style_image), "--data", str(photo_folder), "-o", str(tmp_path / "run2"),
                 "--steps", "1", "--image-size", "32", "--batch-size", "1", "--held-out", "2",
                 "--export", str(tmp_path / "m2.onnx")]) == 0  # no VGG16 here: said, not failed
    assert "the painting distance is not measured" in capsys.readouterr().err


def test_resume_refuses_settings_it_would_otherwise_ignore(tmp_path, photo_folder, style_image, capsys):
    run = tmp_path / "run"
    train(tiny_settings(style_image, photo_folder, steps=1), run, progress=False)
    with pytest.raises(UserError, match=r"--width 0\.5 \(the run's: 0\.25\)"):
        train(tiny_settings(style_image, photo_folder, width=0.5, steps=2), run, resume=True, progress=False)
    other = tmp_path / "other.png"
    other.write_bytes(style_image.read_bytes())
    with pytest.raises(UserError, match="--style"):
        train(tiny_settings(other, photo_folder, steps=2), run, resume=True, progress=False)
    moved = tmp_path / "moved"
    photo_folder.rename(moved)  # photos found elsewhere, and more steps: fine
    assert train(tiny_settings(style_image, moved, steps=2), run, resume=True, progress=False).is_file()
