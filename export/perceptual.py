"""The training objective of a style net: perceptual (content, Gram style, colour, total variation)
terms against one style image, and the temporal robustness term against flicker."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .losses import LossNetwork, colour_loss, colour_statistics, gram_matrix, relative_mse, total_variation
from .settings import TrainSettings


@dataclass
class PerceptualLoss:
    """Content, style (Gram), colour and total-variation terms against one style image."""

    network: LossNetwork
    style_grams: dict[str, torch.Tensor]
    content_weight: float
    style_weight: float
    tv_weight: float
    colour_statistics: torch.Tensor  # the style image's luminance and chroma means and spreads
    colour_weight: float = 0.0
    # the step's mean of a per-batch mean (data-parallel training: over every rank's share)
    batch_mean: Callable[[torch.Tensor], torch.Tensor] | None = None

    @classmethod
    def for_style(cls, network: LossNetwork, style_rgb: torch.Tensor, settings: TrainSettings) -> "PerceptualLoss":
        with torch.no_grad():
            feats = network(style_rgb)
            grams = {name: gram_matrix(feats[name]) for name in network.style_layers}
        return cls(network, grams, settings.content_weight, settings.style_weight, settings.tv_weight,
                   colour_statistics(style_rgb)[0], settings.colour_weight)

    def terms(self, output: torch.Tensor, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted loss terms and their total for a batch of outputs and the photos they came from."""
        with torch.no_grad():
            target = self.network(content)
        feats = self.network(output)
        content_loss = sum(relative_mse(feats[n], target[n], self.batch_mean) for n in self.network.content_layers)
        style_loss = sum(
            relative_mse(gram_matrix(feats[n]), self.style_grams[n].expand(output.shape[0], -1, -1))
            for n in self.network.style_layers
        ) / len(self.network.style_layers)
        terms = {
            "content": self.content_weight * content_loss,
            "style": self.style_weight * style_loss,
            "tv": self.tv_weight * total_variation(output),
        }
        if self.colour_weight > 0:
            terms["colour"] = self.colour_weight * colour_loss(output, self.colour_statistics)
        terms["total"] = sum(terms.values())
        return terms


TEMPORAL_NOISE = 2.0 / 255  # sensor-like noise for the temporal robustness term
BORDER_MARGIN_CELLS = 2  # the border term's band, in the net's size multiples (16 px for the fast net)


def camera_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    """Fresh sensor-like noise (sigma TEMPORAL_NOISE) for a batch of ``shape``."""
    return torch.from_numpy(rng.normal(0, TEMPORAL_NOISE, shape).astype(np.float32))


def temporal_loss(net: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, output: torch.Tensor,
                  noise: torch.Tensor, shift: tuple[int, int] = (0, 0),
                  batch_mean: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  size_multiple: int | None = None) -> torch.Tensor:
    """How much the output moves when the camera moves a little and adds noise, relative to how much
    the input moved: 1 = flickers like the input, 0 = perfectly steady (trains against flicker).

    The perturbed frame is ``batch`` cropped at offset ``shift`` (dy, dx < the net's size multiple,
    i.e. a small pan that the net's strides cannot absorb) plus ``noise``; its output must match the
    same region of ``output``. A margin of one size multiple (``net.size_multiple`` unless given) is
    left out, where padding differs.
    """
    m = size_multiple or net.size_multiple
    (dy, dx), h, w = shift, batch.shape[2] - m, batch.shape[3] - m
    clean = batch[:, :, dy:dy + h, dx:dx + w]
    noisy = (clean + noise[:, :, :h, :w]).clamp(0, 1)
    moved = net(noisy)[:, :, m:-m, m:-m]
    reference = output[:, :, dy:dy + h, dx:dx + w][:, :, m:-m, m:-m]
    input_change = F.mse_loss(noisy, clean)
    return F.mse_loss(moved, reference) / (batch_mean(input_change) if batch_mean else input_change).clamp_min(1e-8)


def noise_loss(net: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, output: torch.Tensor,
               noise: torch.Tensor) -> torch.Tensor:
    """How much the output changes under camera noise alone, relative to the noise: mean
    |net(batch + noise) - output| over mean |noise| (the change `stylize flicker`'s noise figure
    measures). The temporal term's pan dominates it (a crop moved by a few pixels changed the live
    model's painting about 6x as much as the noise did, by mean square), so this term is the one that
    holds still areas steady."""
    noisy = (batch + noise).clamp(0, 1)
    return (net(noisy) - output).abs().mean() / (noisy - batch).abs().mean().clamp_min(1e-8)


MOTION_SHIFT, MOTION_TURN, MOTION_ZOOM = 3.0, 1.5, 0.03  # px, degrees, fraction: the motion term's camera moves


def random_motions(count: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    """``count`` small camera moves as affine_grid matrices for ``size``-px crops: a shift of up to
    MOTION_SHIFT px (by fractions of a pixel too), a turn of up to MOTION_TURN degrees and a zoom of
    up to MOTION_ZOOM."""
    shift = rng.uniform(-MOTION_SHIFT, MOTION_SHIFT, (count, 2)) * 2 / size
    turn = np.radians(rng.uniform(-MOTION_TURN, MOTION_TURN, count))
    zoom = 1 + rng.uniform(-MOTION_ZOOM, MOTION_ZOOM, count)
    theta = np.zeros((count, 2, 3), np.float32)
    theta[:, 0, 0] = theta[:, 1, 1] = zoom * np.cos(turn)
    theta[:, 0, 1], theta[:, 1, 0] = -zoom * np.sin(turn), zoom * np.sin(turn)
    theta[:, :, 2] = shift
    return torch.from_numpy(theta)


def motion_loss(net: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, output: torch.Tensor,
                noise: torch.Tensor, motions: torch.Tensor, margin: int) -> torch.Tensor:
    """How much the painting fails to follow a small camera move (sub-pixel shift, turn, zoom) plus
    noise: mean |net(moved batch + noise) - moved output| over mean |noise|, ``margin`` px at the edges
    left out. The output is moved by the same bilinear warp as the photo, as `stylize flicker`'s
    warping figure aligns consecutive outputs by the flow of a real clip."""
    grid = F.affine_grid(motions, list(batch.shape), align_corners=False)
    moved = F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)
    noisy = (moved + noise).clamp(0, 1)
    expected = F.grid_sample(output, grid, mode="bilinear", padding_mode="border", align_corners=False)
    h, w = batch.shape[2:]
    inner = (slice(None), slice(None), slice(margin, h - margin), slice(margin, w - margin))
    return (net(noisy) - expected)[inner].abs().mean() / (noisy - moved).abs().mean().clamp_min(1e-8)


def border_margin(net, image_size: int) -> int:
    """The border term's band for ``net`` on crops of ``image_size`` px: up to BORDER_MARGIN_CELLS size
    multiples, leaving the net its minimum size inside (at least one multiple at the smallest crop allowed)."""
    return net.size_multiple * min(BORDER_MARGIN_CELLS, (image_size - net.min_size) // (2 * net.size_multiple))


def border_loss(net: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, output: torch.Tensor,
                margin: int, batch_mean: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """How differently the net paints the pixels next to a frame's edge than the same pixels seen
    inside a larger frame, relative to the picture's own variation: 0 = no trace of the edge.

    A net whose convolutions pad with zeros can sense the edge, and a strong style term rewards painting
    the style's dominant colour there: a band across the top of every picture. ``batch`` cropped by
    ``margin`` on every side is painted again; within ``margin`` of its edge it must match ``output``
    (which saw those pixels inside), held fixed.
    """
    painted = net(batch[:, :, margin:-margin, margin:-margin])
    reference = output[:, :, margin:-margin, margin:-margin].detach()
    band = torch.ones_like(reference[:1, :1])
    band[..., margin:-margin, margin:-margin] = 0
    difference = ((painted - reference) ** 2 * band).sum() / (band.sum() * painted.shape[0] * painted.shape[1])
    variation = reference.var()
    return difference / (batch_mean(variation) if batch_mean else variation).clamp_min(1e-8)
