"""Refining the live model's shipped styles against their own nets (stylize.export.style_refine and
net_refine) and putting a refined vector into the live model as its default style."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from stylize import models
from stylize.export import style_refine
from stylize.export.conditional_net import ConditionalFastNet
from stylize.export.losses import build_loss_network
from stylize.export.teacher_pairs import to_tensor
from stylize.export.live_export import export_refined_live_model
from stylize.export.net_refine import NetRefineSettings, refine_default_style_net, refine_live_net
from stylize.export.style_refine import RefineSettings, refine_shipped_styles, refine_style_vector
from stylize.realtime.bake import check_frame, set_default_style
from stylize.realtime.core.errors import UserError
from stylize.realtime.painting_style import resolve_style
from stylize.realtime.core.session import StyleSession

pytest.importorskip("onnx")

TINY = RefineSettings(steps=12, lr=0.1, crops=6, image_size=48, batch_size=2)


def make_tiny_net() -> ConditionalFastNet:
    torch.manual_seed(0)
    net = ConditionalFastNet(width=0.25, residual_blocks=1).eval()
    for norm in net.norms():  # away from the identity start, so that the vector matters
        torch.nn.init.normal_(norm.to_scale.weight, std=0.3)
        torch.nn.init.normal_(norm.to_shift.weight, std=0.3)
    return net


@pytest.fixture
def tiny_net() -> ConditionalFastNet:
    return make_tiny_net()


@pytest.fixture
def random_vgg(monkeypatch):
    """VGG16 with random weights in place of the installed one (no weights in tests)."""
    network = build_loss_network("vgg16", pretrained=False)
    monkeypatch.setattr(style_refine, "build_loss_network", lambda name: network)
    return network


def test_refining_brings_the_texture_closer_to_the_styles_own_net_and_leaves_the_nets_alone(
        tiny_net, random_vgg, photo_folder):
    from stylize.realtime.core.images import list_images

    weights = {k: v.clone() for k, v in tiny_net.state_dict().items()}
    vgg_weights = {k: v.clone() for k, v in random_vgg.state_dict().items()}
    start = np.asarray(resolve_style("candy").vector)
    teacher = StyleSession(models.MODELS_DIR / "candy.onnx", "cpu", threads=1)
    losses = []
    result = refine_style_vector(tiny_net, start, teacher, list_images(photo_folder), random_vgg, TINY,
                                 lambda step, loss: losses.append(loss))
    assert len(losses) == TINY.steps
    assert result.vector.shape == (100,) and result.vector.dtype == np.float32
    assert not np.allclose(result.vector, start)
    assert result.gram_loss_after < result.gram_loss_before
    for name, value in tiny_net.state_dict().items():
        torch.testing.assert_close(value, weights[name])
    for name, value in random_vgg.state_dict().items():
        torch.testing.assert_close(value, vgg_weights[name])
    assert all(p.requires_grad for p in tiny_net.parameters())  # trainable again afterwards
    assert not any(p.requires_grad for p in random_vgg.parameters())


def test_refining_the_shipped_styles_keeps_the_encoded_vector_and_does_not_compound(
        tiny_net, random_vgg, photo_folder):
    shipped = {"candy": {"vector": [float(v) for v in resolve_style("candy").vector], "source": {"file": "candy.jpg"}}}
    once = refine_shipped_styles(tiny_net, shipped, photo_folder, TINY, progress=False)
    entry = once["candy"]
    assert entry["encoded"] == pytest.approx(shipped["candy"]["vector"], abs=1e-6)
    assert entry["source"] == {"file": "candy.jpg"}
    assert entry["refined"]["settings"] == TINY.to_dict()
    assert entry["refined"]["gram_error_after"] < entry["refined"]["gram_error_before"]
    assert not np.allclose(entry["vector"], entry["encoded"])
    again = refine_shipped_styles(tiny_net, once, photo_folder, TINY, progress=False)
    assert again["candy"]["encoded"] == entry["encoded"]
    assert again["candy"]["vector"] == pytest.approx(entry["vector"], abs=1e-5)  # from "encoded" again


def test_a_style_the_net_was_refined_for_keeps_its_vector_and_record(tiny_net, random_vgg, photo_folder):
    vector = [float(v) for v in resolve_style("candy").vector]
    shipped = {"candy": {"vector": vector, "net_refined": {"held_styles": 3}},
               "udnie": {"vector": [float(v) for v in resolve_style("udnie").vector]}}
    refined = refine_shipped_styles(tiny_net, shipped, photo_folder, TINY, progress=False)
    assert list(refined) == ["candy", "udnie"]
    assert refined["candy"] == shipped["candy"]
    assert "refined" in refined["udnie"] and refined["udnie"]["vector"] != shipped["udnie"]["vector"]


def test_refining_on_a_folder_without_photos_is_refused(tiny_net, random_vgg, tmp_path):
    shipped = {"candy": {"vector": [0.0] * 100}}
    with pytest.raises(UserError, match="no photos"):
        refine_shipped_styles(tiny_net, shipped, tmp_path, TINY, progress=False)


def test_the_live_model_paints_a_new_default_style_as_it_paints_that_vector_fed(tmp_path):
    live = tmp_path / "live.onnx"
    shutil.copyfile(models.LIVE_MODEL, live)
    vector = resolve_style("udnie").vector
    frame = check_frame(40, 56)
    expected = StyleSession(models.LIVE_MODEL, "cpu").run(frame, 1.0, vector)
    assert np.abs(StyleSession(live, "cpu").run(frame).astype(int) - expected.astype(int)).max() > 10
    set_default_style(live, vector)
    np.testing.assert_array_equal(StyleSession(live, "cpu").run(frame), expected)
    assert not list(tmp_path.glob("*.tmp*")) and sorted(p.name for p in tmp_path.iterdir()) == ["live.onnx"]


def test_a_default_style_is_refused_for_a_model_without_a_style_input(negative_model):
    before = negative_model.read_bytes()
    with pytest.raises(UserError, match="style"):
        set_default_style(negative_model, np.zeros(100, np.float32))
    assert negative_model.read_bytes() == before


TINY_NET = NetRefineSettings(steps=10, lr=1e-3, vector_lr=0.05, crops=6, image_size=48, batch_size=2)


def held_vectors() -> np.ndarray:
    return np.stack([resolve_style(name).vector for name in ("udnie", "mosaic", "the_scream")])


def test_refining_the_net_brings_the_style_closer_and_the_hold_keeps_the_other_styles(random_vgg, photo_folder):
    from stylize.realtime.core.images import list_images

    vgg_weights = {k: v.clone() for k, v in random_vgg.state_dict().items()}
    teacher = StyleSession(models.MODELS_DIR / "candy.onnx", "cpu", threads=1)
    start = np.asarray(resolve_style("candy").vector)
    results = {}
    for hold_weight in (0.0, 300.0):
        net = make_tiny_net()
        settings = replace(TINY_NET, hold_weight=hold_weight)
        losses = []
        results[hold_weight] = result = refine_live_net(net, start, teacher, list_images(photo_folder), held_vectors(),
                                                        random_vgg, settings, lambda step, loss: losses.append(loss))
        assert len(losses) == settings.steps and not net.training
        assert result.gram_loss_after < result.gram_loss_before
        assert result.vector.shape == (100,) and not np.allclose(result.vector, start)
    for name, value in random_vgg.state_dict().items():
        torch.testing.assert_close(value, vgg_weights[name])
    assert results[300.0].held_change < results[0.0].held_change / 2, results


def test_refining_the_net_for_the_default_style_records_it_and_leaves_the_other_entries(
        tiny_net, random_vgg, photo_folder):
    styles = {name: {"vector": [float(v) for v in resolve_style(name).vector], "source": {"file": f"{name}.jpg"}}
              for name in ("candy", "udnie")}
    refined = refine_default_style_net(tiny_net, styles, "candy", photo_folder, held_vectors(), TINY_NET,
                                       progress=False)
    assert refined["udnie"] == styles["udnie"]
    record = refined["candy"]["net_refined"]
    assert record["settings"] == TINY_NET.to_dict() and record["held_styles"] == 4
    assert record["gram_error_after"] < record["gram_error_before"]
    assert refined["candy"]["source"] == styles["candy"]["source"]
    assert not np.allclose(refined["candy"]["vector"], styles["candy"]["vector"])
    with pytest.raises(UserError, match="not one of the shipped styles"):
        refine_default_style_net(tiny_net, styles, "nope", photo_folder, held_vectors(), TINY_NET, progress=False)


def test_refining_the_net_again_keeps_the_earlier_records_in_order(tiny_net, random_vgg, photo_folder):
    styles = {"candy": {"vector": [float(v) for v in resolve_style("candy").vector]}}
    settings = replace(TINY_NET, steps=2)
    once = refine_default_style_net(tiny_net, styles, "candy", photo_folder, held_vectors(), settings, progress=False)
    twice = refine_default_style_net(tiny_net, once, "candy", photo_folder, held_vectors(),
                                     replace(settings, steps=3), progress=False)
    thrice = refine_default_style_net(tiny_net, twice, "candy", photo_folder, held_vectors(), settings, progress=False)
    first, second = once["candy"]["net_refined"], twice["candy"]["net_refined"]
    assert "earlier" not in first and second["earlier"] == [first] and second["settings"]["steps"] == 3
    assert thrice["candy"]["net_refined"]["earlier"] == [first, {k: v for k, v in second.items() if k != "earlier"}]


def test_the_pixel_term_brings_the_paintings_nearer_the_styles_own_net(random_vgg, photo_folder):
    from stylize.realtime.core.images import list_images

    teacher = StyleSession(models.MODELS_DIR / "candy.onnx", "cpu", threads=1)
    start = np.asarray(resolve_style("candy").vector)
    results = {weight: refine_live_net(make_tiny_net(), start, teacher, list_images(photo_folder), held_vectors(),
                                       random_vgg, replace(TINY_NET, steps=20, pixel_weight=weight))
               for weight in (0.0, 30.0)}
    assert results[0.0].teacher_difference_before == pytest.approx(results[30.0].teacher_difference_before)
    assert results[30.0].teacher_difference_after < results[30.0].teacher_difference_before
    assert results[30.0].teacher_difference_after < results[0.0].teacher_difference_after, results


def test_refining_the_net_on_a_folder_without_photos_is_refused(tiny_net, random_vgg, tmp_path):
    styles = {"candy": {"vector": [0.0] * 100}}
    with pytest.raises(UserError, match="no photos"):
        refine_default_style_net(tiny_net, styles, "candy", tmp_path, held_vectors(), TINY_NET, progress=False)


def test_a_refined_net_is_exported_over_the_live_model_with_its_metadata_kept(tiny_net, tmp_path):
    from stylize.realtime.core import contract

    live = tmp_path / "live.onnx"
    shutil.copyfile(models.LIVE_MODEL, live)
    before = StyleSession(live, "cpu").info.metadata
    vector = resolve_style("udnie").vector
    export_refined_live_model(tiny_net, vector, {"style": "udnie", "steps": 3}, live)
    session = StyleSession(live, "cpu")
    after = session.info.metadata
    assert json.loads(after[contract.META_NET_REFINED]) == {"style": "udnie", "steps": 3}
    kept = [k for k in before if k != contract.META_NET_REFINED]
    assert kept and {k: after[k] for k in kept} == {k: before[k] for k in kept}
    frame = check_frame(32, 48)
    with torch.no_grad():
        expected = tiny_net(to_tensor(frame[None]), torch.from_numpy(vector))[0].permute(1, 2, 0).numpy()
    painted = session.run(frame).reshape(frame.shape)[..., ::-1].astype(np.float32) / 255
    np.testing.assert_allclose(painted, expected, atol=1.5 / 255)


def test_training_paintings_are_found_by_name_and_checked_by_digest(tmp_path, photo_folder):
    from stylize.export.live_export import training_painting_vectors
    from stylize.realtime.painting_style import StyleEncoder, file_digest

    listed = [{"file": name, "sha256": file_digest(path)}
              for name, path in (("p0.png", photo_folder / "p0.png"), ("p1.png", photo_folder / "sub" / "p1.png"))]
    empty = tmp_path / "empty"
    empty.mkdir()
    vectors = training_painting_vectors(listed, [empty, photo_folder], StyleEncoder())  # sub-folders searched too
    assert vectors.shape == (2, 100) and vectors.dtype == np.float32
    with pytest.raises(UserError, match="p0.png"):
        training_painting_vectors([{"file": "p0.png", "sha256": "0" * 64}], [photo_folder], StyleEncoder())
    with pytest.raises(UserError, match="p0.png"):
        training_painting_vectors(listed, [empty], StyleEncoder())
