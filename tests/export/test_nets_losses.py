import pytest
import torch

from stylize.export.losses import (MissingWeightsError, build_loss_network, colour_loss, colour_statistics,
                                   find_vgg_weights, gram_matrix, relative_mse, total_variation)
from stylize.export.nets import ARCHITECTURES, BinomialBlur, UpsampleConv, build_net
from stylize.export.subpixel import SubpixelUpsampleConv, inference_form


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("hw", [(32, 48), (64, 64)])
def test_nets_keep_size_and_range(arch, hw):
    net = build_net(arch, width=0.25)
    assert hw[0] % net.size_multiple == 0 and hw[0] >= net.min_size
    out = net(torch.rand(2, 3, *hw))
    assert out.shape == (2, 3, *hw)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_inference_form_gives_the_same_outputs(arch):
    torch.manual_seed(0)
    net = build_net(arch, width=0.25).eval()
    for norm in (m for m in net.modules() if isinstance(m, torch.nn.InstanceNorm2d)):  # not the identity
        torch.nn.init.uniform_(norm.weight, 0.5, 1.5)
        torch.nn.init.uniform_(norm.bias, -0.5, 0.5)
    fast = inference_form(net)
    upsamples = [m for m in net.modules() if isinstance(m, UpsampleConv)]
    assert len([m for m in fast.modules() if isinstance(m, SubpixelUpsampleConv)]) == len(upsamples)
    assert not any(isinstance(m, UpsampleConv) for m in fast.modules())
    x = torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        assert torch.allclose(fast(x), net(x), atol=1e-5)
    assert any(isinstance(m, UpsampleConv) for m in net.modules()) == bool(upsamples)  # the net itself is kept


def test_unknown_arch():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_net("resnet", 1.0)


def test_johnson_layout():
    net = build_net("johnson", 1.0)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs[:3]] == [
        (3, 32, 9, 1), (32, 64, 3, 2), (64, 128, 3, 2)]
    assert (convs[-1].out_channels, convs[-1].kernel_size[0]) == (3, 9)
    assert len([m for m in net.modules() if isinstance(m, torch.nn.InstanceNorm2d)]) == len(convs) - 1


@pytest.mark.parametrize("backbone,style,content", [
    ("vgg16", ("relu1_2", "relu2_2", "relu3_3", "relu4_3"), ("relu2_2",)),
    ("vgg19", ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"), ("conv4_2",)),
    ("effnet-lite0", ("block0", "block2", "block4", "block7", "block10"), ("block7",)),
])
def test_loss_networks_return_named_frozen_features(backbone, style, content):
    net = build_loss_network(backbone, pretrained=backbone == "effnet-lite0")
    assert net.style_layers == style and net.content_layers == content
    feats = net(torch.rand(1, 3, 64, 64))
    assert set(feats) == set(style) | set(content)
    assert not any(p.requires_grad for p in net.parameters())


def test_missing_vgg_weights_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(MissingWeightsError, match="stylize weights install vgg19.*--backbone-weights"):
        build_loss_network("vgg19")
    with pytest.raises(MissingWeightsError, match="no such file"):
        find_vgg_weights("vgg16", tmp_path / "missing.pth")


def test_vgg_weights_load_from_a_given_path(tmp_path):
    import torchvision

    path = tmp_path / "vgg16.pth"
    reference = torchvision.models.vgg16(weights=None)
    torch.save(reference.state_dict(), path)
    net = build_loss_network("vgg16", weights_path=path)
    assert torch.equal(net.layers[0].weight, reference.features[0].weight)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"nope")
    with pytest.raises(MissingWeightsError, match="not a readable vgg16 state dict"):
        build_loss_network("vgg16", weights_path=bad)


def test_gram_matrix_known_values():
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    gram = gram_matrix(features)[0]
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4
    assert torch.allclose(gram, expected)
    random_gram = gram_matrix(torch.randn(2, 5, 7, 3))
    assert torch.allclose(random_gram, random_gram.transpose(1, 2))
    assert torch.linalg.eigvalsh(random_gram).min() > -1e-6


def test_loss_helpers():
    target = torch.ones(4, 4)
    assert relative_mse(target, target) == 0
    assert relative_mse(torch.zeros(4, 4), target) == pytest.approx(1.0, rel=1e-6)
    flat = torch.full((1, 3, 8, 8), 0.5)
    assert total_variation(flat) == 0
    assert total_variation(torch.rand(1, 3, 8, 8)) > 0


def test_colour_loss_measures_palette_balance_and_pulls_towards_it():
    painting = torch.rand(1, 3, 32, 32)
    stats = colour_statistics(painting)[0]
    assert stats.shape == (6,)
    assert colour_loss(painting.expand(2, -1, -1, -1), stats) < 1e-10
    grey = torch.full((1, 3, 32, 32), 0.5)
    assert colour_loss(grey, stats) == pytest.approx(1.0, abs=0.05)  # no spread at all: about 1
    pale = (0.8 + 0.2 * (painting - 0.5)).requires_grad_()  # lighter, with a quarter of the contrast
    colour_loss(pale, stats).backward()
    step = pale.detach() - 0.5 * pale.grad
    assert colour_statistics(step)[0, 3:].mean() > colour_statistics(pale.detach())[0, 3:].mean()  # more contrast
    assert colour_statistics(step)[0, :3].mean() < colour_statistics(pale.detach())[0, :3].mean()  # darker


def test_torch_free_settings_name_every_architecture_and_backbone():
    from stylize.export.settings import ARCH_NAMES, BACKBONE_NAMES
    from stylize.export.losses import BACKBONES

    assert set(ARCH_NAMES) == set(ARCHITECTURES)
    assert set(BACKBONE_NAMES) == {"auto", *BACKBONES}


def test_anti_aliased_fast_net_paints_less_locked_to_the_pixel_grid():
    """A one-pixel pan of the frame should pan the painting: the anti-aliased net (same weights)
    changes the overlap far less than the plain fast net, whose strides alias."""
    torch.manual_seed(0)
    plain, smooth = build_net("fast"), build_net("fast-aa")
    for p in plain.parameters():
        p.data += 0.1 * torch.randn_like(p)
    smooth.load_state_dict(plain.state_dict())
    frame = torch.nn.functional.interpolate(torch.rand(1, 3, 40, 56), size=(80, 112), mode="bilinear")
    frame = frame + 0.05 * torch.rand_like(frame)  # fine detail for the strides to alias

    def pan_error(net):
        with torch.no_grad():
            a, b = net(frame[:, :, :, :-8]), net(frame[:, :, :, 1:-7])
        return float((a[:, :, 16:-16, 17:-16] - b[:, :, 16:-16, 16:-17]).abs().mean())

    assert pan_error(smooth) < 0.6 * pan_error(plain)


def test_the_smooth_body_net_does_not_paint_the_bodys_finest_pattern():
    """On flat areas the body settles into a checkerboard at 1/8 size, which fast-aa paints as a lattice
    of dots; fast-smooth (same weights) low-passes it away before the decoder."""
    torch.manual_seed(0)
    aa, smooth = build_net("fast-aa"), build_net("fast-smooth")
    smooth.load_state_dict(aa.state_dict())
    frame = torch.full((1, 3, 96, 128), 0.5) + 0.01 * torch.rand(1, 3, 96, 128)
    yy, xx = torch.meshgrid(torch.arange(12), torch.arange(16), indexing="ij")
    checkerboard = ((yy + xx) % 2 * 2 - 1).float() * 3

    def change_from_checkerboard(net):
        with torch.no_grad():
            plain = net(frame)
            hook = net.body.register_forward_hook(lambda module, args, out: out + checkerboard)
            painted = net(frame)
            hook.remove()
        return float((painted - plain)[:, :, 40:-40, 40:-40].abs().mean())  # away from the edges

    assert change_from_checkerboard(aa) > 0.01
    # what is left comes from the edges, through the decoder's instance norms
    assert change_from_checkerboard(smooth) < 0.1 * change_from_checkerboard(aa)


@pytest.mark.parametrize("pattern", ["rows", "columns", "checkerboard"])
def test_the_binomial_blur_removes_the_finest_pattern_up_to_the_edges(pattern):
    """Stripes one pixel wide are gone everywhere, the first and last rows and columns too: with
    replicated edges stripes along the frame's edge passed at half strength, and fast-smooth learned
    to paint them there."""
    yy, xx = torch.meshgrid(torch.arange(12), torch.arange(16), indexing="ij")
    phase = {"rows": yy, "columns": xx, "checkerboard": yy + xx}[pattern]
    stripes = (phase % 2 * 2 - 1).float().expand(1, 4, 12, 16)
    assert float(BinomialBlur(4)(stripes).abs().max()) < 1e-6


def test_structure_kept_sees_the_photos_shapes_not_its_brush_strokes():
    import numpy as np

    from stylize.export.evaluate import structure_kept
    from stylize.realtime.demo import SAMPLE_PHOTOS, SAMPLES_DIR
    from stylize.realtime.core.images import read_image

    rng = np.random.default_rng(0)
    photo = read_image(SAMPLES_DIR / SAMPLE_PHOTOS[0])
    strokes = np.clip(photo.astype(int) + rng.integers(-40, 41, photo.shape), 0, 255).astype(np.uint8)
    tinted = (photo * np.array([0.4, 0.9, 1.0])).astype(np.uint8)  # other colours, the same light and dark
    assert structure_kept(photo, photo) == pytest.approx(1.0, abs=1e-6)
    assert structure_kept(tinted, photo) > 0.9 and structure_kept(strokes, photo) > 0.5
    assert abs(structure_kept(rng.integers(0, 256, photo.shape, np.uint8), photo)) < 0.2  # unrelated
    assert structure_kept(255 - photo, photo) < -0.9  # light where the photo is dark
