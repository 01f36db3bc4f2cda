"""Refining the live model's shipped styles against their own nets (stylize.export.style_refine) and
putting a refined vector into the live model as its default style."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from stylize import models
from stylize.export import style_refine
from stylize.export.conditional_net import ConditionalFastNet
from stylize.export.losses import build_loss_network
from stylize.export.style_refine import RefineSettings, refine_shipped_styles, refine_style_vector
from stylize.realtime.bake import check_frame, set_default_style
from stylize.realtime.errors import UserError
from stylize.realtime.painting_style import resolve_style
from stylize.realtime.session import StyleSession

pytest.importorskip("onnx")

TINY = RefineSettings(steps=12, lr=0.1, crops=6, image_size=48, batch_size=2)


@pytest.fixture
def tiny_net() -> ConditionalFastNet:
    torch.manual_seed(0)
    net = ConditionalFastNet(width=0.25, residual_blocks=1).eval()
    for norm in net.norms():  # away from the identity start, so that the vector matters
        torch.nn.init.normal_(norm.to_scale.weight, std=0.3)
        torch.nn.init.normal_(norm.to_shift.weight, std=0.3)
    return net


@pytest.fixture
def random_vgg(monkeypatch):
    """VGG16 with random weights in place of the installed one (no weights in tests)."""
    network = build_loss_network("vgg16", pretrained=False)
    monkeypatch.setattr(style_refine, "build_loss_network", lambda name: network)
    return network


def test_refining_brings_the_texture_closer_to_the_styles_own_net_and_leaves_the_nets_alone(
        tiny_net, random_vgg, photo_folder):
    from stylize.realtime.images import list_images

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
