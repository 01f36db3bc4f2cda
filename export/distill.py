"""Training the live any-painting net (:class:`~export.conditional_net.ConditionalFastNet`).

Two signals, both cheap enough for a 2-core CPU:
- distillation: a teacher arbitrary-style net (Magenta's, Ghiasi et al. 2017, as onnxruntime
  files) paints (photo crop, style vector) pairs once; the student learns to match it (L1);
- the papers' perceptual losses: VGG16 Gram matrices of the student's output against those of the
  painting crop the vector came from (blends: the blend of the Gram matrices), plus content, so the
  student can end closer to the painting than its teacher; against those of the teacher's painting of
  the same crop (its brush texture, which pixel L1 averages away, for every vector the pairs hold);
  and the per-style recipe's temporal and border terms against flicker and bands at the edges.

Style vectors come from the teacher's style-prediction net on several crops of every training
painting (random crops widen what the student sees), and from blends of two. The paintings held out
for evaluation are never read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import CHECKPOINT_NAME, KIND_LIVE, checkpoint_state, load_checkpoint, loop_state, same_layout, \
    save_checkpoint
from .conditional_net import ConditionalFastNet
from .live_start import load_shipped_live_net
from .loop import Loop, LoopState, LossTerms
from .losses import LossNetwork, build_loss_network, colour_loss, colour_statistics, gram_matrix, relative_mse, \
    training_taps
from .narrowing import least_needed_blocks, narrowed_live_net
from .painting_split import check_not_reserved
from .perceptual import border_loss, border_margin, camera_noise, motion_loss, noise_loss, random_motions, \
    temporal_loss
from .settings import DistillSettings
from ..realtime.core.errors import UserError
from .teacher_pairs import TEACHER_SIZE, Teacher, build_pairs, build_style_bank, load_cached, load_style_bank, \
    pair_mix, pair_styles, save_style_bank, style_net_teachers, to_tensor


def check_distill_settings(settings: DistillSettings) -> list[str]:
    """The VGG16 taps of the settings' Gram terms; settings that cannot work together are a UserError."""
    if settings.smooth_body and not settings.antialias:
        raise UserError("--smooth-body true needs --antialias true (together: the fast-smooth layout)")
    if settings.style_net_weight > 0 and not settings.teacher_net:
        raise UserError("--style-net-weight needs --teacher-net (its vectors' targets are painted during training)")
    if settings.style_net_weight > 0 and not 1 <= settings.style_net_samples <= settings.batch_size:
        raise UserError(f"--style-net-samples {settings.style_net_samples}: must be from 1 to the batch size "
                        f"({settings.batch_size})")
    try:
        return training_taps("vgg16", settings.style_layers)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def cached_bank_and_pairs(settings: DistillSettings, teacher: Teacher, run: Path, rng: np.random.Generator,
                          progress: bool) -> tuple[dict, dict]:
    """The style bank (vectors and crops of the training paintings) and the teacher's (photo, painting)
    pairs: made once, kept in the run folder, read back on later runs."""
    bank = load_style_bank(run)
    if bank is None:
        bank = build_style_bank(settings, teacher, rng)
        save_style_bank(run, bank)
    pairs_path = run / "pairs.npz"
    pairs = load_cached(pairs_path)
    if pairs is None:
        pairs = build_pairs(settings, teacher, bank, rng, progress)
        np.savez(pairs_path, **pairs)
    return bank, pairs


def start_live_net(settings: DistillSettings, net: ConditionalFastNet, teacher_net: ConditionalFastNet | None,
                   pairs: dict, vectors: torch.Tensor, rng: np.random.Generator) -> None:
    """A new run's weights: ``init_from``'s, else the teacher net narrowed to this net's shape, else random."""
    if settings.init_from:
        start = load_shipped_live_net(settings.init_from)[0]
        if not same_layout(start, net):
            raise UserError(f"--init-from {settings.init_from}: not a net of width {settings.width} with "
                            f"{settings.residual_blocks} residual blocks")
        net.load_state_dict(start.state_dict())
    elif teacher_net is not None:
        sample = rng.integers(len(pairs["inputs"]), size=16)
        photos, styles = to_tensor(pairs["inputs"][sample]), pair_styles(pairs, vectors, sample)
        keep = least_needed_blocks(teacher_net, photos, styles, len(teacher_net.body.body) - settings.residual_blocks)
        net.load_state_dict(narrowed_live_net(teacher_net, settings.width, keep, photos, styles).state_dict())


@dataclass
class Targets:
    """What the live net is trained towards: the teacher pairs, the bank's vectors, the Gram matrices and
    colour statistics of the bank's painting crops, and the per-style nets of training paintings."""

    pairs: dict
    vectors: torch.Tensor
    vgg: LossNetwork | None = None
    grams: dict[str, torch.Tensor] = field(default_factory=dict)
    colours: torch.Tensor | None = None
    style_nets: dict = field(default_factory=dict)


def training_targets(settings: DistillSettings, bank: dict, pairs: dict, taps: list[str],
                     backbone_weights: str | None) -> Targets:
    """The :class:`Targets` the settings' loss terms need (VGG16 only where a term uses it)."""
    targets = Targets(pairs, torch.from_numpy(bank["vectors"]))
    if settings.style_net_weight > 0:
        targets.style_nets = style_net_teachers(settings.style_nets, bank, settings.crops_per_painting)
        if not targets.style_nets:
            raise UserError(f"--style-nets {settings.style_nets!r}: no per-style net there was trained on a "
                            "training painting")
    if max(settings.style_weight, settings.content_weight, settings.teacher_style_weight,
           settings.style_net_weight) > 0:
        targets.vgg = build_loss_network("vgg16", backbone_weights, taps=taps)
        with torch.no_grad():
            crop_grams = [{n: gram_matrix(f) for n, f in targets.vgg(to_tensor(chunk)).items()
                           if n in targets.vgg.style_layers}
                          for chunk in np.array_split(bank["crops"], max(1, len(bank["crops"]) // 16))]
            targets.grams = {n: torch.cat([g[n] for g in crop_grams]) for n in targets.vgg.style_layers}
    if settings.colour_weight > 0:
        targets.colours = colour_statistics(to_tensor(bank["crops"]))
    return targets


def distill(settings: DistillSettings, run_dir: str | Path, resume: bool = False, progress: bool = True,
            backbone_weights: str | None = None) -> Path:
    """Train (or resume) the live any-painting net into ``run_dir``; returns the checkpoint path."""
    taps = check_distill_settings(settings)
    check_not_reserved(settings.paintings)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    ckpt_path = run / CHECKPOINT_NAME
    bank, pairs = cached_bank_and_pairs(settings, Teacher(settings.teacher_dir), run, rng, progress)
    net = ConditionalFastNet(width=settings.width, residual_blocks=settings.residual_blocks,
                             antialias=settings.antialias, smooth_body=settings.smooth_body)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    teacher_net = load_shipped_live_net(settings.teacher_net)[0] if settings.teacher_net else None
    saved = load_checkpoint(ckpt_path, KIND_LIVE) if resume and ckpt_path.is_file() else None
    if saved is not None:
        net.load_state_dict(saved["net"])
        optimizer.load_state_dict(saved["optimizer"])
        for group in optimizer.param_groups:
            group["lr"] = settings.lr
        rng = np.random.default_rng(settings.seed + saved["step"])
    else:
        start_live_net(settings, net, teacher_net, pairs, torch.from_numpy(bank["vectors"]), rng)
    targets = training_targets(settings, bank, pairs, taps, backbone_weights)

    def checkpoint(state: LoopState) -> None:
        save_checkpoint(ckpt_path, checkpoint_state(KIND_LIVE, settings.to_dict(), net, optimizer, state))

    net.train()
    loop = Loop(optimizer, settings.steps, "distill", show_progress=progress, checkpoint=checkpoint,
                checkpoint_every=settings.checkpoint_every,
                note=lambda: f"the last good checkpoint is {ckpt_path}" if ckpt_path.is_file() else "no checkpoint yet")
    loop.run(distill_terms(settings, net, teacher_net, targets, rng), loop_state(saved))
    return ckpt_path


def distill_terms(settings: DistillSettings, net: ConditionalFastNet, teacher_net: ConditionalFastNet | None,
                  targets: Targets, rng: np.random.Generator) -> LossTerms:
    """A step's loss terms: a batch of teacher-pair crops with their (blended) style vectors, against the
    teacher's paintings (L1) and each term the settings weigh."""
    size, n_pairs, pairs, vectors = settings.image_size, len(targets.pairs["inputs"]), targets.pairs, targets.vectors
    margin = border_margin(net, size)
    taught = settings.style_net_samples if targets.style_nets else 0  # the batch's last samples
    style_net_rows = np.array(sorted(targets.style_nets))

    def terms(step: int) -> dict[str, torch.Tensor]:
        idx = rng.integers(n_pairs, size=settings.batch_size)
        y, x = rng.integers(TEACHER_SIZE - size + 1, size=2)
        crops = pairs["inputs"][idx, y:y + size, x:x + size]
        photo = to_tensor(crops)
        a, b, w = pair_mix(pairs, idx)
        if taught:  # the last samples: uncoloured crops of paintings with their own per-style nets
            a[-taught:] = b[-taught:] = torch.from_numpy(rng.choice(style_net_rows, taught))
            w[-taught:] = 1.0
        style = w * vectors[a] + (1 - w) * vectors[b]
        if teacher_net is None:
            target = to_tensor(pairs["outputs"][idx, y:y + size, x:x + size])
        else:
            with torch.no_grad():
                target = teacher_net(photo, style)
        output = net(photo, style)
        named = {"l1": settings.l1_weight * F.l1_loss(output, target)}
        if targets.colours is not None:
            mixed = w * targets.colours[a] + (1 - w) * targets.colours[b]
            named["colour"] = settings.colour_weight * colour_loss(output, mixed)
        if targets.vgg is not None:
            named.update(perceptual_terms(settings, targets, photo, output, target, a, b, w))
            if taught:
                named["style_net"] = style_net_term(settings, targets, output[-taught:], crops[-taught:], a[-taught:])
        named.update(steadiness_terms(settings, lambda batch: net(batch, style), photo, output, rng, margin,
                                      net.size_multiple))
        return named

    return terms


def perceptual_terms(settings: DistillSettings, targets: Targets, photo: torch.Tensor, output: torch.Tensor,
                     target: torch.Tensor, a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> dict[str, torch.Tensor]:
    """VGG16 terms: Gram matrices against the (blended) painting crops' and the teacher's painting's, and
    content against the photo."""
    vgg, grams = targets.vgg, targets.grams
    feats = vgg(output)
    with torch.no_grad():
        content_feats = vgg(photo)
    w3 = w[:, :, None]
    named = {"style": settings.style_weight * sum(
        relative_mse(gram_matrix(feats[n]), w3 * grams[n][a] + (1 - w3) * grams[n][b])
        for n in vgg.style_layers) / len(vgg.style_layers),
        "content": settings.content_weight * sum(relative_mse(feats[n], content_feats[n]) for n in vgg.content_layers)}
    if settings.teacher_style_weight > 0:  # the teacher's texture for any vector, blends and unseen ones too
        with torch.no_grad():
            teacher_feats = vgg(target)
        named["teacher_style"] = settings.teacher_style_weight * sum(
            relative_mse(gram_matrix(feats[n]), gram_matrix(teacher_feats[n]))
            for n in vgg.style_layers) / len(vgg.style_layers)
    return named


def style_net_term(settings: DistillSettings, targets: Targets, output: torch.Tensor, crops: np.ndarray,
                   rows: torch.Tensor) -> torch.Tensor:
    """Gram matrices of the outputs against those of the per-style nets' paintings of the same crops."""
    vgg = targets.vgg
    with torch.no_grad():
        painted = np.concatenate([targets.style_nets[int(row)].run(np.ascontiguousarray(crop[None]))
                                  for crop, row in zip(crops, rows)])
        net_feats = vgg(to_tensor(painted))
    feats = vgg(output)
    return settings.style_net_weight * sum(relative_mse(gram_matrix(feats[n]), gram_matrix(net_feats[n]))
                                           for n in vgg.style_layers) / len(vgg.style_layers)


def steadiness_terms(settings: DistillSettings, paint, photo: torch.Tensor, output: torch.Tensor,
                     rng: np.random.Generator, margin: int, size_multiple: int) -> dict[str, torch.Tensor]:
    """The terms against flicker (temporal, noise, motion) and bands along the edges, where weighed."""
    named = {}
    if settings.temporal_weight > 0:
        noise = camera_noise(rng, tuple(photo.shape))
        shift = tuple(int(v) for v in rng.integers(0, size_multiple, 2))
        named["temporal"] = settings.temporal_weight * temporal_loss(paint, photo, output, noise, shift,
                                                                     size_multiple=size_multiple)
    if settings.noise_weight > 0:
        named["noise"] = settings.noise_weight * noise_loss(paint, photo, output, camera_noise(rng, tuple(photo.shape)))
    if settings.motion_weight > 0:
        noise = camera_noise(rng, tuple(photo.shape))
        named["motion"] = settings.motion_weight * motion_loss(
            paint, photo, output, noise, random_motions(len(photo), photo.shape[-1], rng), margin)
    if settings.border_weight > 0:
        named["border"] = settings.border_weight * border_loss(paint, photo, output, margin)
    return named
