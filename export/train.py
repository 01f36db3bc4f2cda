"""Johnson et al. 2016 training: a transform net against a style image under a perceptual loss."""
from __future__ import annotations

import logging
import json
import signal
import threading
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CHECKPOINT_NAME, KIND_STYLE, checkpoint_state, load_checkpoint, loop_state, \
    net_from_checkpoint, same_layout, save_checkpoint
from .data import PhotoFolder, bgr_to_tensor, resize_longer_side
from .distributed import World, average_gradients, average_values, dist_backend, join, leave
from .live_start import live_start
from .loop import Loop, LossTerms, LoopState
from .losses import build_loss_network, resolve_backbone, training_taps
from .model_weights import warm_start_net
from .nets import build_net, resolved_shape
from .perceptual import TEMPORAL_NOISE, PerceptualLoss, border_loss, border_margin, temporal_loss
from .previews import draw_loss_curve, write_preview
from .safe_load import load_tensors
from .settings import TrainSettings
from ..realtime.core.errors import UserError
from ..realtime.core.images import read_image
from ..realtime.core.outputs import ensure_writable_folder

log = logging.getLogger(__name__)
# nets laid out as the live model's (zero padding): its weights start them
LIVE_START_ARCHS = ("fast", "fast-aa", "fast-smooth")

def train(settings: TrainSettings, run_dir: str | Path, resume: bool = False,
          backbone_weights: str | None = None, progress: bool = True, device: str = "auto") -> Path:
    """Train a style net into ``run_dir`` (checkpoint, previews, loss curve, settings.json).

    With ``resume`` the run continues from ``run_dir``'s checkpoint, whose settings win except
    ``steps`` and ``data`` (other settings that differ are refused). ``device``: auto (CUDA when torch sees a
    GPU), cpu or cuda. Started by torchrun,
    the processes train one net data-parallel (see :mod:`stylize.export.distributed`):
    ``batch_size`` is then per process, and only rank 0 writes. Returns the final checkpoint's path.
    """
    try:
        settings.validate()
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    world, place = join(device)
    ckpt_path = Path(run_dir) / CHECKPOINT_NAME
    try:
        return _train(settings, Path(run_dir), resume, backbone_weights, progress, world, place)
    except KeyboardInterrupt:
        if world.size > 1:
            ending()
        if world.is_main:
            log.info(f"stopped; {last_checkpoint_note(ckpt_path)}")
        raise
    except RuntimeError as exc:
        if world.size == 1:
            raise
        ending()
        raise UserError(f"training process {world.rank} of {world.size} lost contact with the others "
                        f"({str(exc).splitlines()[0][:200]}); {last_checkpoint_note(ckpt_path)}") from exc
    finally:
        leave(world)


def ending() -> None:
    """A torchrun process is ending: a further SIGTERM (torchrun stops the other processes when one
    fails) must not cut short the message that says where to resume."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def last_checkpoint_note(ckpt_path: Path) -> str:
    """Where a stopped run can continue from."""
    if not ckpt_path.is_file():
        return "no checkpoint had been written yet"
    step = load_tensors(ckpt_path, "training checkpoint").get("step", "?")
    return f"the last checkpoint ({ckpt_path}, step {step}) is intact: the same command with --resume continues"


RESUME_MAY_CHANGE = ("steps", "data")  # a resumed run may train longer, and find its photos elsewhere


def refuse_changes_on_resume(given: TrainSettings, saved: TrainSettings) -> None:
    """A resumed run continues as it was made: settings given that differ from both the default and the run's
    are refused with a message (they were silently ignored), rather than half applied."""
    default = TrainSettings()
    changed = [f.name for f in fields(TrainSettings) if f.name not in RESUME_MAY_CHANGE
               and getattr(given, f.name) != getattr(default, f.name)
               and getattr(given, f.name) != getattr(saved, f.name)]
    if given.style and Path(given.style).resolve() == Path(saved.style).resolve():
        changed = [name for name in changed if name != "style"]
    if changed:
        listed = ", ".join(f"--{n.replace('_', '-')} {getattr(given, n)!r} (the run's: {getattr(saved, n)!r})"
                           for n in changed)
        raise UserError(f"--resume continues the run as it was made; these differ: {listed}. Start a new run "
                        "(another -o, --init-from the old one) to change them")


def starting_net(settings: TrainSettings) -> torch.nn.Module:
    """A new run's net: the shape its settings resolve to (written back into them), started from
    ``--init-from``, else from the live model painting the style where the architecture allows."""
    settings.width, settings.residual_blocks = resolved_shape(settings.arch, settings.width, settings.residual_blocks)
    net = build_net(settings.arch, settings.width, settings.residual_blocks)
    if settings.init_from:
        warm, warm_settings = warm_start_net(settings.init_from)
        if not same_layout(warm, net):  # fast-v2 weights do start a fast net: only the padding differs
            raise UserError(f"--init-from {settings.init_from}: a {warm_settings.arch} net at width "
                            f"{warm_settings.width} with {warm_settings.residual_blocks} residual blocks, but this "
                            f"run trains {settings.arch} at width {settings.width} with {settings.residual_blocks}")
        net.load_state_dict(warm.state_dict())
    elif settings.init_live and settings.arch in LIVE_START_ARCHS:
        start_net = live_start(settings.style, net)
        if start_net is not None:
            net.load_state_dict(start_net.state_dict())
    return net


def style_loss_for(settings: TrainSettings, style_bgr: np.ndarray, backbone_weights: str | None, world: World,
                   place: torch.device) -> PerceptualLoss:
    """The perceptual loss against the painting ``style_bgr``, on ``place``."""
    try:
        network = build_loss_network(settings.backbone, backbone_weights,
                                     taps=training_taps(settings.backbone, settings.style_layers)).to(place)
    except Exception as exc:
        raise UserError(str(exc)) from exc
    style = bgr_to_tensor([resize_longer_side(style_bgr, settings.style_size)]).to(place)
    loss = PerceptualLoss.for_style(network, style, settings)
    if world.size > 1:
        loss.batch_mean = world.mean
    return loss


def _train(settings: TrainSettings, run_dir: Path, resume: bool, backbone_weights: str | None, progress: bool,
           world: World, place: torch.device) -> Path:
    ckpt_path = run_dir / CHECKPOINT_NAME
    saved = None
    if resume:
        saved = load_checkpoint(ckpt_path, KIND_STYLE)
        net, made_with = net_from_checkpoint(saved)
        refuse_changes_on_resume(settings, made_with)
        # the arch as resolved there; only the steps and where the photos are may change
        settings = replace(made_with, **{name: getattr(settings, name) for name in RESUME_MAY_CHANGE})
    elif ckpt_path.exists():
        raise UserError(f"{run_dir} already holds a training run: pass --resume to continue it, or choose another -o")
    settings.backbone = resolve_backbone(settings.backbone, backbone_weights)
    style_bgr = read_image(settings.style)
    photos = PhotoFolder(settings.data, settings.held_out)
    torch.manual_seed(settings.seed)
    if saved is None:
        net = starting_net(settings)
    net.to(place)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    if saved is not None:
        optimizer.load_state_dict(saved["optimizer"])
    loss = style_loss_for(settings, style_bgr, backbone_weights, world, place)
    if world.is_main:
        ensure_writable_folder(run_dir)
        (run_dir / "settings.json").write_text(json.dumps(settings.to_dict(), indent=2))
    if world.size > 1 and world.is_main:
        log.info(f"world size {world.size}, batch {settings.batch_size} per rank ({settings.batch_size * world.size} "
                 f"a step), {dist_backend()} on {place.type}")
    loop = style_loop(settings, net, optimizer, loss, photos, run_dir, world, progress)
    began = time.perf_counter()
    ended = loop.run(step_terms(settings, net, loss, photos, world, place), loop_state(saved))
    if world.is_main and (saved is None or saved["step"] < settings.steps):
        summary = {"seconds": time.perf_counter() - began, "steps": settings.steps, "world_size": world.size,
                   "unreadable_images": sorted(str(p) for p in photos.unreadable)}
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if world.is_main and ended.history:
        draw_loss_curve(ended.history, run_dir / "loss_curve.png")
    return ckpt_path


def step_terms(settings: TrainSettings, net: torch.nn.Module, loss: PerceptualLoss, photos: PhotoFolder,
               world: World, place: torch.device) -> LossTerms:
    """A step's loss terms: the perceptual terms of a batch of photo crops (the same for a step on every
    rank), with the temporal and border terms where their weights ask for them."""
    margin = border_margin(net, settings.image_size)
    step_batch = settings.batch_size * world.size  # one global batch a step, shared out among the ranks

    def terms(step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([settings.seed, step])  # the batch depends only on seed and step
        crops = photos.random_crops(rng, step_batch, settings.image_size, settings.zoom)
        batch = bgr_to_tensor(world.share(crops)).to(place)
        output = net(batch)
        named = loss.terms(output, batch)
        if settings.temporal_weight > 0:
            noise = rng.normal(0, TEMPORAL_NOISE, (step_batch, *batch.shape[1:])).astype(np.float32)
            noise = torch.from_numpy(world.share(noise)).to(place)
            shift = tuple(int(v) for v in rng.integers(0, net.size_multiple, 2))
            named["temporal"] = settings.temporal_weight * temporal_loss(net, batch, output, noise, shift,
                                                                         loss.batch_mean)
        if settings.border_weight > 0:
            named["border"] = settings.border_weight * border_loss(net, batch, output, margin, loss.batch_mean)
        return named

    return terms


def style_loop(settings: TrainSettings, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
               loss: PerceptualLoss, photos: PhotoFolder, run_dir: Path, world: World, progress: bool) -> Loop:
    """The loop of a style run: checkpoints and previews from rank 0, gradients and figures averaged over
    the ranks."""
    ckpt_path = run_dir / CHECKPOINT_NAME
    shown = photos.held_out_images(settings.image_size)  # unreadable held-out photos are skipped
    if not shown:
        log.info("note: none of the held-out photos could be read: no preview grids")
    place = next(net.parameters()).device
    held_out = bgr_to_tensor(shown).to(place) if shown else None

    def checkpoint(state: LoopState) -> None:
        if world.is_main:
            save_checkpoint(ckpt_path, checkpoint_state(KIND_STYLE, settings.to_dict(), net, optimizer, state,
                                                        world_size=world.size))

    def after_step(done: int, record: dict[str, float]) -> None:
        if world.is_main and held_out is not None and (done % settings.preview_every == 0 or done == settings.steps):
            write_preview(net, held_out, run_dir / "previews" / f"step_{done:06d}.png")

    net.train()
    return Loop(optimizer, settings.steps, f"train {settings.style_name} ({settings.arch})",
                show_progress=progress and world.is_main, checkpoint=checkpoint,
                checkpoint_every=settings.checkpoint_every, after_step=after_step,
                before_update=lambda: average_gradients(list(net.parameters()), world),
                summarise=lambda record: average_values(record, world, place), watched=list(net.parameters()),
                note=lambda: last_checkpoint_note(ckpt_path),
                shown=lambda record: {**{k: f"{v:.3f}" for k, v in record.items() if k != "total"},
                                      "skipped": str(len(photos.unreadable))})
