"""The live any-painting model's torch side: the conditional net, its distillation (with a stand-in
teacher), export with a style input, and the fixed-style net a new style's training starts from."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from stylize import models
from stylize.export.checkpoint import KIND_LIVE, load_checkpoint
from stylize.export.conditional_net import ConditionalFastNet, fixed_style_net, shrink_styles
from stylize.export.distill import DistillSettings, distill
from stylize.export.live_export import StyleShrink, export_live_model
from stylize.realtime.core import contract
from stylize.realtime.core.errors import UserError
from stylize.realtime.core.session import StyleSession

onnx = pytest.importorskip("onnx")


def stand_in_teacher(folder):
    """Two tiny ONNX files with the teacher's I/O: painting -> 100-d vector (its mean colour through a
    fixed matrix), (photo, vector) -> the photo's negative."""
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir()
    matrix = numpy_helper.from_array(np.random.default_rng(0).normal(size=(3, 100)).astype(np.float32), "m")
    predict = helper.make_graph(
        [helper.make_node("ReduceMean", ["style_image"], ["mean"], axes=[1, 2], keepdims=1),
         helper.make_node("MatMul", ["mean", "m"], ["vector"])], "predict",
        [helper.make_tensor_value_info("style_image", TensorProto.FLOAT, [1, 256, 256, 3])],
        [helper.make_tensor_value_info("vector", TensorProto.FLOAT, [1, 1, 1, 100])], initializer=[matrix])
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    transform = helper.make_graph(
        [helper.make_node("Sub", ["one", "content_image"], ["painted"])], "transform",
        [helper.make_tensor_value_info("content_image", TensorProto.FLOAT, [1, 384, 384, 3]),
         helper.make_tensor_value_info("vector", TensorProto.FLOAT, [1, 1, 1, 100])],
        [helper.make_tensor_value_info("painted", TensorProto.FLOAT, [1, 384, 384, 3])], initializer=[one])
    for name, graph in (("arbitrary_predict", predict), ("arbitrary_transform", transform)):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.save(model, str(folder / f"{name}.onnx"))
    return folder


@pytest.mark.parametrize("width,antialias", [(0.25, False), (1.0, False), (0.25, True)])
def test_the_fixed_style_net_paints_as_the_conditional_net_does(width, antialias):
    torch.manual_seed(0)
    net = ConditionalFastNet(width=width, antialias=antialias).eval()
    for norm in net.norms():  # away from the identity start, so the check means something
        torch.nn.init.normal_(norm.to_scale.weight, std=0.3)
        torch.nn.init.normal_(norm.to_shift.weight, std=0.3)
    style, rgb = torch.randn(100), torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        expected = net(rgb, style)
        torch.testing.assert_close(fixed_style_net(net, style)(rgb), expected)
        torch.testing.assert_close(net(rgb, style.expand(2, -1)), expected)  # one style per image, same result


@pytest.mark.parametrize("factor", [0.9, 0.5])
def test_shrinking_the_styles_paints_each_vector_as_the_vector_moved_towards_the_centre(factor):
    torch.manual_seed(0)
    net = ConditionalFastNet(width=0.25).eval()
    for norm in net.norms():
        torch.nn.init.normal_(norm.to_scale.weight, std=0.3)
        torch.nn.init.normal_(norm.to_shift.weight, std=0.3)
    centre, styles, rgb = torch.randn(100), torch.randn(2, 100), torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        expected = net(rgb, centre + factor * (styles - centre))
        unchanged, at_centre = net(rgb, styles), net(rgb, centre)
        shrink_styles(net, centre, factor)
        torch.testing.assert_close(net(rgb, styles), expected)
        assert (net(rgb, styles) - unchanged).abs().mean() > 1e-3  # the fold did change the net
        torch.testing.assert_close(net(rgb, centre), at_centre)  # the centre stays where it was


@pytest.mark.parametrize("antialias,smooth_body", [(False, False), (True, False), (True, True)])
def test_saved_live_weights_keep_the_layout(tmp_path, antialias, smooth_body):
    from stylize.export.live_start import load_shipped_live_net, save_live_weights

    torch.manual_seed(0)
    net = ConditionalFastNet(width=0.25, residual_blocks=2, antialias=antialias, smooth_body=smooth_body).eval()
    for norm in net.norms():  # a painting with texture, which the body low-pass changes
        torch.nn.init.normal_(norm.to_scale.weight, std=0.3)
    save_live_weights(net, 0.25, tmp_path / "live.npz")
    loaded, width = load_shipped_live_net(tmp_path / "live.npz")
    assert (width, loaded.antialias, loaded.smooth_body) == (0.25, antialias, smooth_body)
    style, rgb = torch.randn(100), torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        torch.testing.assert_close(loaded(rgb, style), net(rgb, style))


def test_settings_that_cannot_train_are_refused_before_the_run_starts(tmp_path):
    from stylize.realtime.core.errors import UserError

    with pytest.raises(UserError, match="--smooth-body true needs --antialias true"):
        distill(DistillSettings(smooth_body=True), tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="vgg16 has no layer relu9_9"):
        distill(DistillSettings(style_layers="relu2_2,relu9_9"), tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="--style-net-weight needs --teacher-net"):
        distill(DistillSettings(style_nets="models", style_net_weight=1.0), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_distill_then_export_gives_a_contract_model_with_a_style_input(tmp_path, photo_folder, style_image):
    teacher = stand_in_teacher(tmp_path / "teacher")
    paintings = tmp_path / "paintings"
    paintings.mkdir()
    (paintings / "art.png").write_bytes(style_image.read_bytes())
    (paintings / "la_muse.jpg").write_bytes(style_image.read_bytes())  # held out: must never be read
    settings = DistillSettings(teacher_dir=str(teacher), paintings=[str(paintings)], photos=str(photo_folder),
                               width=0.25, crops_per_painting=2, colour_variants=2, pairs=6, steps=4, batch_size=2,
                               image_size=64, temporal_weight=0.01, noise_weight=0.1, motion_weight=0.1,
                               colour_weight=0.5, checkpoint_every=2)
    checkpoint = distill(settings, tmp_path / "run", progress=False)
    assert [p["file"] for p in json.loads((tmp_path / "run" / "paintings.json").read_text())] == ["art.png"]
    with np.load(tmp_path / "run" / "style_bank.npz") as bank:  # 2 crops and 2 colour variants of the one painting
        assert len(bank["vectors"]) == len(bank["crops"]) == 4 and (bank["painting_of_crop"] == 0).all()
        assert not np.array_equal(bank["crops"][2], bank["crops"][0])
    resumed = distill(DistillSettings(**{**settings.to_dict(), "steps": 6}), tmp_path / "run", resume=True,
                      progress=False)
    state = load_checkpoint(resumed, KIND_LIVE)
    assert state["step"] == 6 and resumed == checkpoint
    assert all(record["temporal"] > 0 and record["noise"] > 0 and record["motion"] > 0  # the terms against flicker
               and record["colour"] > 0 for record in state["history"])
    model = tmp_path / "live.onnx"
    errors = export_live_model(tmp_path / "run", model, np.linspace(-1, 1, 100, dtype=np.float32),
                               [{"file": "art.png", "sha256": "0" * 64}])
    assert max(errors.values()) <= 1
    session = StyleSession(model, "cpu")
    assert session.info.style_dims == 100 and session.info.architecture == "fast-conditional"
    assert session.info.settings["held_out_paintings"] and session.info.settings["trained_steps"] == 6
    frame = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    default, other = session.run(frame), session.run(frame, 1.0, np.zeros(100, np.float32))
    assert default.shape == frame.shape and not np.array_equal(default, other)

    # moved towards a centre at export: any vector paints as the vector moved, and the model says so
    for name, tensor in state["net"].items():  # style maps strong enough for the move to show
        if ".to_scale.weight" in name or ".to_shift.weight" in name:
            tensor.normal_(std=0.1, generator=torch.Generator().manual_seed(0))
    torch.save(state, resumed)
    centre, vector = np.full(100, 0.5, np.float32), np.linspace(1, -1, 100, dtype=np.float32)
    for path, shrink in ((tmp_path / "plain.onnx", None), (tmp_path / "shrunk.onnx", StyleShrink(0.6, centre))):
        export_live_model(tmp_path / "run", path, np.zeros(100, np.float32), shrink=shrink)
    plain, shrunk = StyleSession(tmp_path / "plain.onnx", "cpu"), StyleSession(tmp_path / "shrunk.onnx", "cpu")
    assert json.loads(shrunk.info.metadata[contract.META_STYLE_SHRINK])["factor"] == 0.6
    assert contract.META_STYLE_SHRINK not in plain.info.metadata
    moved = plain.run(frame, 1.0, centre + 0.6 * (vector - centre)).astype(int)
    assert np.abs(shrunk.run(frame, 1.0, vector) - moved).max() <= 1
    assert np.abs(plain.run(frame, 1.0, vector) - moved).mean() > 2  # the move is large enough to tell


def test_distill_starts_from_saved_live_weights_and_keeps_its_border_term(tmp_path, photo_folder, style_image):
    """``init_from``: a run continues the weights of a saved live net (as models/live ships them), not
    random ones; another width is refused; the border and teacher-texture terms are trained when weighted."""
    torchvision = pytest.importorskip("torchvision")
    from stylize.export.live_start import load_shipped_live_net, save_live_weights

    vgg = tmp_path / "vgg16.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), vgg)  # random weights, real code path

    teacher = stand_in_teacher(tmp_path / "teacher")
    paintings = tmp_path / "paintings"
    paintings.mkdir()
    (paintings / "art.png").write_bytes(style_image.read_bytes())
    torch.manual_seed(1)
    start = ConditionalFastNet(width=0.25)
    for norm in start.norms():
        torch.nn.init.normal_(norm.to_shift.weight, std=0.3)
    save_live_weights(start, 0.25, tmp_path / "start.npz")
    settings = DistillSettings(teacher_dir=str(teacher), paintings=[str(paintings)], photos=str(photo_folder),
                               width=0.25, crops_per_painting=1, pairs=4, steps=1, batch_size=2, image_size=64,
                               lr=1e-9, border_weight=1.0, teacher_style_weight=1.0,
                               init_from=str(tmp_path / "start.npz"))
    state = load_checkpoint(distill(settings, tmp_path / "run", progress=False, backbone_weights=str(vgg)),
                            KIND_LIVE)
    trained, _ = load_shipped_live_net(tmp_path / "start.npz")
    for name, value in trained.state_dict().items():  # a step at lr 1e-9 leaves the start as it was
        torch.testing.assert_close(state["net"][name], value, atol=1e-6, rtol=0)
    first = state["history"][0]
    assert first["border"] > 0 and first["teacher_style"] > 0
    with pytest.raises(UserError, match="not a net of width 0.5"):
        distill(DistillSettings(**{**settings.to_dict(), "width": 0.5}), tmp_path / "run2", progress=False,
                backbone_weights=str(vgg))


def wide_net_with_unread_parts() -> tuple[ConditionalFastNet, list[int]]:
    """A width-1 live net in which a quarter of every layer's channels and residual block 2 are read
    by nothing downstream: a width-0.75 net without them paints exactly as it does."""
    torch.manual_seed(0)
    net = ConditionalFastNet(width=1.0).eval()
    for norm in net.norms():
        torch.nn.init.normal_(norm.to_scale.weight, std=0.3)
        torch.nn.init.normal_(norm.to_shift.weight, std=0.3)
    body, rng = net.body, np.random.default_rng(0)
    unread = lambda count: torch.from_numpy(rng.choice(count, count // 4, replace=False))  # noqa: E731
    with torch.no_grad():
        body.encoder[1].conv.weight[:, unread(16)] = 0
        body.encoder[2].conv.weight[:, unread(32)] = 0
        stream = unread(64)
        for reader in [body.decoder[0].conv.conv] + [block.conv1.conv for block in body.body]:
            reader.weight[:, stream] = 0
        for block in body.body:
            block.conv2.conv.weight[:, unread(64)] = 0
        body.decoder[1].conv.conv.weight[:, unread(32)] = 0
        body.decoder[2].conv.weight[:, unread(16)] = 0
        silent = body.body[2].conv2  # its residual branch adds nothing
        silent.norm.to_scale.weight.zero_(), silent.norm.to_scale.bias.zero_()
        silent.norm.to_shift.weight.zero_(), silent.norm.to_shift.bias.zero_()
    return net, [0, 1, 3, 4]


def test_a_narrowed_live_net_keeps_the_channels_and_blocks_that_matter():
    from stylize.export.narrowing import least_needed_blocks, narrowed_live_net

    wide, needed = wide_net_with_unread_parts()
    photos, styles = torch.rand(3, 3, 48, 64), torch.randn(3, 100)
    assert least_needed_blocks(wide, photos, styles, drop=1) == needed
    narrow = narrowed_live_net(wide, 0.75, needed, photos, styles)
    assert narrow.body.encoder[0].conv.out_channels == 12 and len(narrow.body.body) == 4
    rgb, style = torch.rand(2, 3, 40, 56), torch.randn(100)
    with torch.no_grad():
        torch.testing.assert_close(narrow(rgb, style), wide(rgb, style), atol=1e-5, rtol=0)
        kept_all = narrowed_live_net(wide, 1.0, list(range(5)), photos, styles)
        torch.testing.assert_close(kept_all(rgb, style), wide(rgb, style), atol=1e-6, rtol=0)


def test_distilling_from_a_wider_live_net_starts_as_it_and_learns_its_paintings(tmp_path, photo_folder, style_image):
    """``teacher_net``: the student starts as the wide net narrowed (same paintings here, where what is
    cut is read by nothing) and its L1 target is the wide net's painting, not the teacher pairs'."""
    from stylize.export.live_start import load_shipped_live_net, save_live_weights

    wide, _ = wide_net_with_unread_parts()
    save_live_weights(wide, 1.0, tmp_path / "wide.npz")
    paintings = tmp_path / "paintings"
    paintings.mkdir()
    (paintings / "art.png").write_bytes(style_image.read_bytes())
    settings = DistillSettings(teacher_dir=str(stand_in_teacher(tmp_path / "teacher")), paintings=[str(paintings)],
                               photos=str(photo_folder), width=0.75, residual_blocks=4, crops_per_painting=2,
                               pairs=4, steps=1, batch_size=2, image_size=64, lr=1e-9,
                               teacher_net=str(tmp_path / "wide.npz"))
    state = load_checkpoint(distill(settings, tmp_path / "run", progress=False), KIND_LIVE)
    student = ConditionalFastNet(width=0.75, residual_blocks=4).eval()
    student.load_state_dict(state["net"])
    rgb, style = torch.rand(2, 3, 40, 56), torch.randn(100)
    with torch.no_grad():
        torch.testing.assert_close(student(rgb, style), load_shipped_live_net(tmp_path / "wide.npz")[0](rgb, style),
                                   atol=1e-4, rtol=0)
    assert state["history"][0]["l1"] < 1e-4  # the wide net's painting; the stand-in's would be far
    with np.load(tmp_path / "run" / "pairs.npz") as pairs:  # the teacher's paintings are not made: never read
        assert "outputs" not in pairs.files and len(pairs["inputs"]) == 4


def test_colour_variants_are_other_paintings_of_the_same_size(style_image):
    from stylize.export.teacher_pairs import colour_variant
    from stylize.realtime.core.images import read_image

    crop = cv2.resize(read_image(style_image), (64, 64))
    rng = np.random.default_rng(0)
    variants = [colour_variant(crop, rng) for _ in range(4)]
    assert all(v.shape == crop.shape and v.dtype == np.uint8 for v in variants)
    hues = [float(np.median(cv2.cvtColor(v, cv2.COLOR_BGR2HSV)[..., 0])) for v in variants]
    assert len({round(h) for h in hues}) > 1  # the palette moves


def test_the_shipped_live_weights_match_the_shipped_live_model(photo):
    """`stylize train` starts from any_painting.npz: it must be the net inside any_painting.onnx."""
    from stylize.export.live_start import load_shipped_live_net
    from stylize.realtime.painting_style import resolve_style

    net, _ = load_shipped_live_net()
    vector = resolve_style("udnie").vector
    rgb = torch.from_numpy(np.ascontiguousarray(photo[:, :, ::-1])).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        padded = torch.nn.functional.pad(rgb, (0, 5, 0, 3), mode="replicate")  # to the net's multiple of 8
        ours = fixed_style_net(net, torch.from_numpy(vector))(padded)[:, :, :61, :83]
    torch_bgr = (ours[0].permute(1, 2, 0).numpy()[:, :, ::-1] * 255).round()
    onnx_bgr = StyleSession(models.LIVE_MODEL, "cpu").run(photo, 1.0, vector)
    assert np.abs(torch_bgr - onnx_bgr).max() <= 2


def test_training_a_style_starts_from_the_shipped_live_model_at_the_default_shape(style_image):
    """`stylize train`'s default net has the shipped live model's shape, so a new style starts from the
    live model painting it; a net of another shape starts from random weights."""
    from stylize.export.live_start import live_start, load_shipped_live_net
    from stylize.export.nets import build_net
    from stylize.realtime.painting_style import StyleEncoder

    start = live_start(style_image, build_net("fast"))
    assert start is not None
    live, _ = load_shipped_live_net()
    expected = fixed_style_net(live, torch.from_numpy(StyleEncoder().encode(style_image)))
    rgb = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(start(rgb), expected(rgb))
    assert live_start(style_image, build_net("fast", 0.5)) is None


def test_an_anti_aliased_style_net_starts_from_the_live_model_too(tmp_path, photo_folder, style_image):
    """`stylize train --arch fast-aa` at the default shape starts, like `--arch fast`, from the live model
    painting the style: its weights are the live start's, in the anti-aliased layout."""
    from stylize.export.checkpoint import load_checkpoint, net_from_checkpoint
    from stylize.export.live_start import live_start
    from stylize.export.nets import build_net
    from stylize.export.settings import TrainSettings
    from stylize.export.train import train

    settings = TrainSettings(style=str(style_image), data=str(photo_folder), arch="fast-aa", steps=1, lr=1e-12,
                             batch_size=1, image_size=32, style_size=64, held_out=1, backbone="effnet-lite0",
                             border_weight=0.0, temporal_weight=0.0)
    net, saved = net_from_checkpoint(load_checkpoint(train(settings, tmp_path / "run", progress=False)))
    expected = build_net("fast-aa")
    expected.load_state_dict(live_start(style_image, build_net("fast")).state_dict())
    assert saved.arch == "fast-aa"
    rgb = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(rgb), expected.eval()(rgb), atol=1e-4, rtol=0)


def test_per_style_nets_teach_the_uncoloured_crops_of_their_own_paintings(tmp_path, photo_folder, style_image,
                                                                          monkeypatch):
    """``style_nets``: a per-style net trained on a training painting paints the Gram target of that
    painting's uncoloured crops' vectors (not its colour variants', not another painting's); the term
    is trained every step, on as many samples of the batch as asked and on the Gram layers asked; a
    folder with no such net, or more taught samples than the batch holds, is refused with a message."""
    torchvision = pytest.importorskip("torchvision")
    from tests.conftest import contract_metadata, make_contract_model
    from stylize.export.live_start import save_live_weights
    from stylize.export import distill as distill_module
    from stylize.export.losses import build_loss_network
    from stylize.export.teacher_pairs import load_style_bank, style_net_teachers
    from stylize.realtime.core.errors import UserError

    vgg = tmp_path / "vgg16.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), vgg)  # random weights, real code path
    paintings = tmp_path / "paintings"
    paintings.mkdir()
    for name in ("art.png", "other.png"):
        (paintings / name).write_bytes(style_image.read_bytes())
    nets = tmp_path / "nets"
    nets.mkdir()
    metadata = contract_metadata("constant") | {contract.META_SETTINGS: json.dumps({"style": "/elsewhere/other.png"})}
    make_contract_model(nets / "other.onnx", kind="constant", metadata=metadata)
    make_contract_model(nets / "unrelated.onnx")  # no training painting recorded: teaches nothing
    torch.manual_seed(0)
    save_live_weights(ConditionalFastNet(width=0.25), 0.25, tmp_path / "live.npz")
    settings = DistillSettings(teacher_dir=str(stand_in_teacher(tmp_path / "teacher")), paintings=[str(paintings)],
                               photos=str(photo_folder), width=0.25, crops_per_painting=2, colour_variants=1,
                               pairs=4, steps=2, batch_size=2, image_size=64, style_weight=1.0,
                               teacher_net=str(tmp_path / "live.npz"), style_nets=str(nets), style_net_weight=1.0,
                               style_net_samples=2, style_layers="relu2_2,relu3_3")
    networks = []
    monkeypatch.setattr(distill_module, "build_loss_network",
                        lambda *args, **kwargs: networks.append(build_loss_network(*args, **kwargs)) or networks[-1])
    state = load_checkpoint(distill(settings, tmp_path / "run", progress=False, backbone_weights=str(vgg)),
                            KIND_LIVE)
    assert all(record["style_net"] > 0 for record in state["history"])
    assert networks[0].style_layers == ("relu2_2", "relu3_3")  # every Gram term on the asked layers

    teachers = style_net_teachers(nets, load_style_bank(tmp_path / "run"), settings.crops_per_painting)
    assert sorted(teachers) == [3, 4]  # other.png's rows 3, 4 (5 is its colour variant); art.png's 0-2: none
    frame = np.full((8, 8, 3), 30, np.uint8)
    assert (teachers[3].run(frame) == 128).all()  # the constant net: the one trained on other.png

    with pytest.raises(UserError, match="no per-style net there"):
        distill(DistillSettings(**{**settings.to_dict(), "style_nets": str(tmp_path / "teacher")}),
                tmp_path / "run2", progress=False, backbone_weights=str(vgg))
    with pytest.raises(UserError, match="--style-net-samples 3: must be from 1 to the batch size"):
        distill(DistillSettings(**{**settings.to_dict(), "style_net_samples": 3}),
                tmp_path / "run3", progress=False, backbone_weights=str(vgg))
    assert not (tmp_path / "run3").exists()  # refused before the long start-up


def test_one_checkpoint_layout_for_every_run_and_the_live_models_first_layout_still_reads(tmp_path):
    """Style runs and live-model runs write one layout with its kind; the live model's earlier layout (its
    weights as "model", settings and history as JSON text) loads as today's; a run of the other kind, given
    where one kind is expected, is a message."""
    from stylize.export.checkpoint import CHECKPOINT_FORMAT, KIND_STYLE, save_checkpoint
    from stylize.export.live_export import load_live_net

    settings = DistillSettings(width=0.25, residual_blocks=1)
    net = ConditionalFastNet(width=0.25, residual_blocks=1)
    save_checkpoint(tmp_path / "old.pt", {"model": net.state_dict(), "optimizer": {}, "step": 7, "seconds": 1.5,
                                          "settings": json.dumps(settings.to_dict()),
                                          "history": json.dumps([{"step": 7, "l1": 0.5}])})
    state = load_checkpoint(tmp_path / "old.pt", KIND_LIVE)
    assert state["format"] == CHECKPOINT_FORMAT and state["kind"] == KIND_LIVE and state["step"] == 7
    assert state["history"] == [{"step": 7, "l1": 0.5}] and state["settings"]["width"] == 0.25
    loaded, loaded_settings, _ = load_live_net(tmp_path / "old.pt")
    assert loaded_settings.residual_blocks == 1
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in loaded.state_dict().items())
    with pytest.raises(UserError, match="the live any-painting model's checkpoint, where a style net's"):
        load_checkpoint(tmp_path / "old.pt", KIND_STYLE)
