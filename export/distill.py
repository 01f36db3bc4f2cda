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

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import CHECKPOINT_NAME, same_layout, save_checkpoint
from .conditional_net import ConditionalFastNet
from .live_start import load_shipped_live_net
from .losses import build_loss_network, colour_loss, colour_statistics, gram_matrix, relative_mse, training_taps
from .narrowing import least_needed_blocks, narrowed_live_net
from .painting_split import check_not_reserved
from .perceptual import border_loss, border_margin, camera_noise, motion_loss, noise_loss, random_motions, \
    temporal_loss
from .safe_load import load_tensors
from .settings import DistillSettings
from ..realtime.errors import UserError
from .teacher_pairs import TEACHER_SIZE, Teacher, build_pairs, build_style_bank, load_cached, load_style_bank, \
    pair_mix, pair_styles, save_style_bank, style_net_teachers, to_tensor


def distill(settings: DistillSettings, run_dir: str | Path, resume: bool = False, progress: bool = True,
            backbone_weights: str | None = None) -> Path:
    """Train (or resume) the live any-painting net into ``run_dir``; returns the checkpoint path."""
    from tqdm import tqdm

    if settings.smooth_body and not settings.antialias:
        raise UserError("--smooth-body true needs --antialias true (together: the fast-smooth layout)")
    try:
        taps = training_taps("vgg16", settings.style_layers)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    if settings.style_net_weight > 0 and not settings.teacher_net:
        raise UserError("--style-net-weight needs --teacher-net (its vectors' targets are painted during training)")
    if settings.style_net_weight > 0 and not 1 <= settings.style_net_samples <= settings.batch_size:
        raise UserError(f"--style-net-samples {settings.style_net_samples}: must be from 1 to the batch size "
                        f"({settings.batch_size})")
    check_not_reserved(settings.paintings)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    ckpt_path = run / CHECKPOINT_NAME
    teacher = Teacher(settings.teacher_dir)

    bank = load_style_bank(run)
    if bank is None:
        bank = build_style_bank(settings, teacher, rng)
        save_style_bank(run, bank)
    pairs_path = run / "pairs.npz"
    pairs = load_cached(pairs_path)
    if pairs is None:
        pairs = build_pairs(settings, teacher, bank, rng, progress)
        np.savez(pairs_path, **pairs)

    net = ConditionalFastNet(width=settings.width, residual_blocks=settings.residual_blocks,
                             antialias=settings.antialias, smooth_body=settings.smooth_body)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    step, seconds, history = 0, 0.0, []
    resuming = resume and ckpt_path.is_file()
    vectors = torch.from_numpy(bank["vectors"])
    teacher_net = load_shipped_live_net(settings.teacher_net)[0] if settings.teacher_net else None
    if settings.init_from and not resuming:
        start = load_shipped_live_net(settings.init_from)[0]
        if not same_layout(start, net):
            raise ValueError(f"init_from {settings.init_from}: not a net of width {settings.width} with "
                             f"{settings.residual_blocks} residual blocks")
        net.load_state_dict(start.state_dict())
    elif teacher_net is not None and not resuming:
        sample = rng.integers(len(pairs["inputs"]), size=16)
        photos, styles = to_tensor(pairs["inputs"][sample]), pair_styles(pairs, vectors, sample)
        keep = least_needed_blocks(teacher_net, photos, styles, len(teacher_net.body.body) - settings.residual_blocks)
        net.load_state_dict(narrowed_live_net(teacher_net, settings.width, keep, photos, styles).state_dict())
    if resuming:
        state = load_tensors(ckpt_path, "live-model checkpoint")
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:
            group["lr"] = settings.lr
        step, seconds, history = state["step"], state["seconds"], json.loads(state["history"])
        rng = np.random.default_rng(settings.seed + step)

    style_nets = style_net_teachers(settings.style_nets, bank, settings.crops_per_painting) \
        if settings.style_net_weight > 0 else {}
    if settings.style_net_weight > 0 and not style_nets:
        raise UserError(f"--style-nets {settings.style_nets!r}: no per-style net there was trained on a "
                        "training painting")
    taught = settings.style_net_samples if style_nets else 0  # the batch's last samples
    style_net_rows = np.array(sorted(style_nets))
    vgg = None
    if settings.style_weight > 0 or settings.content_weight > 0 or settings.teacher_style_weight > 0 \
            or settings.style_net_weight > 0:
        vgg = build_loss_network("vgg16", backbone_weights, taps=taps)
        with torch.no_grad():
            crop_grams = [{n: gram_matrix(f) for n, f in vgg(to_tensor(chunk)).items() if n in vgg.style_layers}
                          for chunk in np.array_split(bank["crops"], max(1, len(bank["crops"]) // 16))]
            grams = {n: torch.cat([g[n] for g in crop_grams]) for n in vgg.style_layers}
    crop_colours = colour_statistics(to_tensor(bank["crops"])) if settings.colour_weight > 0 else None

    size, n_pairs = settings.image_size, len(pairs["inputs"])
    margin = border_margin(net, size)
    bar = tqdm(total=settings.steps, initial=step, desc="distill", disable=not progress)
    net.train()
    while step < settings.steps:
        started = time.perf_counter()
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
        terms = {"l1": settings.l1_weight * F.l1_loss(output, target)}
        if crop_colours is not None:
            mixed = w * crop_colours[a] + (1 - w) * crop_colours[b]
            terms["colour"] = settings.colour_weight * colour_loss(output, mixed)
        if vgg is not None:
            feats = vgg(output)
            with torch.no_grad():
                content_feats = vgg(photo)
            w3 = w[:, :, None]
            terms["style"] = settings.style_weight * sum(
                relative_mse(gram_matrix(feats[n]), w3 * grams[n][a] + (1 - w3) * grams[n][b])
                for n in vgg.style_layers) / len(vgg.style_layers)
            terms["content"] = settings.content_weight * sum(
                relative_mse(feats[n], content_feats[n]) for n in vgg.content_layers)
            if settings.teacher_style_weight > 0:  # the teacher's texture for any vector, blends and unseen ones too
                with torch.no_grad():
                    teacher_feats = vgg(target)
                terms["teacher_style"] = settings.teacher_style_weight * sum(
                    relative_mse(gram_matrix(feats[n]), gram_matrix(teacher_feats[n]))
                    for n in vgg.style_layers) / len(vgg.style_layers)
            if taught:
                with torch.no_grad():
                    painted = np.concatenate([style_nets[int(row)].run(np.ascontiguousarray(crop[None]))
                                              for crop, row in zip(crops[-taught:], a[-taught:])])
                    net_feats = vgg(to_tensor(painted))
                terms["style_net"] = settings.style_net_weight * sum(
                    relative_mse(gram_matrix(feats[n][-taught:]), gram_matrix(net_feats[n]))
                    for n in vgg.style_layers) / len(vgg.style_layers)
        if settings.temporal_weight > 0:
            noise = camera_noise(rng, tuple(photo.shape))
            shift = tuple(int(v) for v in rng.integers(0, net.size_multiple, 2))
            terms["temporal"] = settings.temporal_weight * temporal_loss(
                lambda x: net(x, style), photo, output, noise, shift, size_multiple=net.size_multiple)
        if settings.noise_weight > 0:
            noise = camera_noise(rng, tuple(photo.shape))
            terms["noise"] = settings.noise_weight * noise_loss(lambda x: net(x, style), photo, output, noise)
        if settings.motion_weight > 0:
            noise = camera_noise(rng, tuple(photo.shape))
            terms["motion"] = settings.motion_weight * motion_loss(
                lambda x: net(x, style), photo, output, noise, random_motions(len(photo), size, rng), margin)
        if settings.border_weight > 0:
            terms["border"] = settings.border_weight * border_loss(lambda x: net(x, style), photo, output, margin)
        total = sum(terms.values())
        if not torch.isfinite(total):
            raise RuntimeError(f"loss became {float(total)} at step {step}; last good checkpoint: {ckpt_path}")
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        step += 1
        seconds += time.perf_counter() - started
        history.append({"step": step, **{k: round(float(v.detach()), 5) for k, v in terms.items()}})
        bar.update(1)
        bar.set_postfix({k: f"{float(v.detach()):.3f}" for k, v in terms.items()})
        if step % settings.checkpoint_every == 0 or step == settings.steps:
            save_checkpoint(ckpt_path, {"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                                        "step": step, "seconds": seconds, "settings": json.dumps(settings.to_dict()),
                                        "history": json.dumps(history[-5000:])})
    bar.close()
    return ckpt_path
