"""The live any-painting net: the `fast` transform net whose instance norms take their scale and shift
from a style vector (conditional instance norm, Dumoulin et al. 2017; a style vector predicted from
any painting, Ghiasi et al. 2017)."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .nets import FastNet

STYLE_DIMS = 100  # the length of the style vector the style-prediction net gives for a painting


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose per-channel scale and shift are linear maps of a style vector.

    The vector is handed over by the owning :class:`ConditionalFastNet` for each forward pass
    (``style``: [D] for one style, [N, D] for one per image). With a [D] vector the scale and shift
    go into the instance norm itself, which exports as one ``InstanceNormalization`` node.
    """

    def __init__(self, channels: int, style_dims: int = STYLE_DIMS):
        super().__init__()
        self.to_scale = nn.Linear(style_dims, channels)
        self.to_shift = nn.Linear(style_dims, channels)
        with torch.no_grad():  # starts as a plain instance norm
            for layer, bias in ((self.to_scale, 1.0), (self.to_shift, 0.0)):
                layer.weight.mul_(0.01)
                layer.bias.fill_(bias)
        self.style: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.style is None:
            raise RuntimeError("ConditionalInstanceNorm runs inside a ConditionalFastNet, which sets its style")
        scale, shift = self.to_scale(self.style), self.to_shift(self.style)
        if self.style.dim() == 1:
            return F.instance_norm(x, weight=scale, bias=shift)
        return F.instance_norm(x) * scale[:, :, None, None] + shift[:, :, None, None]


class ConditionalFastNet(nn.Module):
    """The :class:`~export.nets.FastNet` layout (same convolutions, same cost per frame) with every
    instance norm conditioned on a style vector: ``net(rgb, style)``, RGB NCHW in [0, 1] in and out."""

    size_multiple = FastNet.size_multiple

    def __init__(self, width: float = 1.0, residual_blocks: int = 5, style_dims: int = STYLE_DIMS,
                 antialias: bool = False, smooth_body: bool = False):
        super().__init__()
        self.style_dims, self.antialias, self.smooth_body = style_dims, antialias, smooth_body
        self.body = FastNet(width=width, residual_blocks=residual_blocks, antialias=antialias, smooth_body=smooth_body)
        self.min_size = self.body.min_size
        for module in list(self.body.modules()):
            for name, child in module.named_children():
                if isinstance(child, nn.InstanceNorm2d):
                    setattr(module, name, ConditionalInstanceNorm(child.num_features, style_dims))

    def norms(self) -> list[ConditionalInstanceNorm]:
        return [m for m in self.body.modules() if isinstance(m, ConditionalInstanceNorm)]

    def forward(self, rgb: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        norms = self.norms()
        for norm in norms:
            norm.style = style
        try:
            return self.body(rgb)
        finally:
            for norm in norms:
                norm.style = None


def fixed_style_net(net: ConditionalFastNet, style: torch.Tensor) -> FastNet:
    """The plain :class:`~export.nets.FastNet` that paints exactly as ``net`` does with ``style``: the
    same convolutions, each conditional norm turned into an instance norm whose affine parameters are
    the style's scale and shift (a start for training one painting further)."""
    plain = FastNet(width=net.body.encoder[0].conv.out_channels / 16, residual_blocks=len(net.body.body),
                    antialias=net.antialias, smooth_body=net.smooth_body)
    state = {k: v for k, v in net.body.state_dict().items() if ".to_scale." not in k and ".to_shift." not in k}
    vector = style.detach().reshape(-1)
    with torch.no_grad():
        for name, module in net.body.named_modules():
            if isinstance(module, ConditionalInstanceNorm):
                state[f"{name}.weight"] = module.to_scale(vector)
                state[f"{name}.bias"] = module.to_shift(vector)
    plain.load_state_dict(state)
    return plain


def shrink_styles(net: ConditionalFastNet, centre: torch.Tensor, factor: float) -> None:
    """Fold ``v -> centre + factor * (v - centre)`` into every norm's style maps, in place: the net then
    paints any vector as it painted that vector moved towards ``centre`` (for the live model the mean of
    its training paintings' vectors, so that a painting it never saw lands among the styles it learnt)."""
    with torch.no_grad():
        for norm in net.norms():
            for layer in (norm.to_scale, norm.to_shift):
                layer.bias.add_((1.0 - factor) * (layer.weight @ centre))
                layer.weight.mul_(factor)
