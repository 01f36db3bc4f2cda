"""Johnson et al. 2016 training: a transform net against a style image under a perceptual loss."""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from stylize.export.distributed import World, average_gradients, average_values, dist_backend, join, leave
from stylize.export.losses import LossNetwork, build_loss_network, gram_matrix, relative_mse, total_variation
from stylize.export.nets import build_net
from stylize.export.safe_load import load_tensors
from stylize.export.settings import TrainSettings
from stylize.export.weights import find_installed
from stylize.realtime.errors import UserError
from stylize.realtime.images import list_images, read_image, write_image
from stylize.realtime.outputs import ensure_writable_folder

CHECKPOINT_NAME = "checkpoint.pt"
# 2: "fast" is the zero-padded net; a format-1 "fast" checkpoint holds a fast-v2 or fast-v1 net
CHECKPOINT_FORMAT = 2


def bgr_to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """Stack uint8 BGR HxWx3 images into a float RGB NCHW tensor in [0, 1]."""
    batch = np.stack([img[:, :, ::-1] for img in images]).astype(np.float32) / 255.0
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()


def tensor_to_bgr(batch: torch.Tensor) -> list[np.ndarray]:
    """Inverse of :func:`bgr_to_tensor`, rounding to uint8."""
    arr = (batch.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return [np.ascontiguousarray(a[:, :, ::-1]) for a in arr]


def resize_longer_side(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = size / max(h, w)
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def read_photo(path: Path) -> np.ndarray | None:
    """A training photo as BGR, or None when it cannot be read or is over the pixel limit (skipped)."""
    try:
        return read_image(path)
    except UserError:
        return None


class PhotoFolder:
    """Photos under a folder (recursive), read on demand; unreadable files are skipped and counted."""

    def __init__(self, folder: str | Path, held_out: int):
        folder = Path(folder)
        if not folder.is_dir():
            raise UserError(f"--data {folder}: no such folder")
        paths = list_images(folder)
        if len(paths) <= held_out:
            raise UserError(f"--data {folder}: found {len(paths)} image files, need more than {held_out}")
        self.held_out_paths = paths[:held_out]
        self.paths = paths[held_out:]
        self.unreadable: set[Path] = set()

    def random_crops(self, rng: np.random.Generator, count: int, size: int) -> list[np.ndarray]:
        """``count`` random square crops of ``size`` px, each from a randomly rescaled photo."""
        crops = []
        while len(crops) < count:
            if len(self.unreadable) == len(self.paths):
                raise UserError("none of the training images could be read")
            path = self.paths[rng.integers(len(self.paths))]
            if path in self.unreadable:
                continue
            image = read_photo(path)
            if image is None:
                self.unreadable.add(path)
                continue
            h, w = image.shape[:2]
            scale = size * rng.uniform(1.0, 1.5) / min(h, w)
            image = cv2.resize(image, (max(size, round(w * scale)), max(size, round(h * scale))),
                               interpolation=cv2.INTER_AREA)
            y = rng.integers(image.shape[0] - size + 1)
            x = rng.integers(image.shape[1] - size + 1)
            crop = image[y:y + size, x:x + size]
            crops.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
        return crops

    def held_out_images(self, size: int) -> list[np.ndarray]:
        """The held-out photos, centre-cropped to squares of ``size`` px (for previews and losses)."""
        out = []
        for path in self.held_out_paths:
            image = read_photo(path)
            if image is None:
                continue
            h, w = image.shape[:2]
            s = min(h, w)
            image = image[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
            out.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
        return out


@dataclass
class PerceptualLoss:
    """Content, style (Gram) and total-variation terms against one style image."""

    network: LossNetwork
    style_grams: dict[str, torch.Tensor]
    content_weight: float
    style_weight: float
    tv_weight: float
    # the step's mean of a per-batch mean (data-parallel training: over every rank's share)
    batch_mean: Callable[[torch.Tensor], torch.Tensor] | None = None

    @classmethod
    def for_style(cls, network: LossNetwork, style_rgb: torch.Tensor, settings: TrainSettings) -> "PerceptualLoss":
        with torch.no_grad():
            feats = network(style_rgb)
            grams = {name: gram_matrix(feats[name]) for name in network.style_layers}
        return cls(network, grams, settings.content_weight, settings.style_weight, settings.tv_weight)

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
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms


TEMPORAL_NOISE = 2.0 / 255  # sensor-like noise for the temporal robustness term


def temporal_loss(net: torch.nn.Module, batch: torch.Tensor, output: torch.Tensor, noise: torch.Tensor,
                  shift: tuple[int, int] = (0, 0),
                  batch_mean: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """How much the output moves when the camera moves a little and adds noise, relative to how much
    the input moved: 1 = flickers like the input, 0 = perfectly steady (trains against flicker).

    The perturbed frame is ``batch`` cropped at offset ``shift`` (dy, dx < the net's size multiple,
    i.e. a small pan that the net's strides cannot absorb) plus ``noise``; its output must match the
    same region of ``output``. A margin of one size multiple is left out, where padding differs.
    """
    m = net.size_multiple
    (dy, dx), h, w = shift, batch.shape[2] - m, batch.shape[3] - m
    clean = batch[:, :, dy:dy + h, dx:dx + w]
    noisy = (clean + noise[:, :, :h, :w]).clamp(0, 1)
    moved = net(noisy)[:, :, m:-m, m:-m]
    reference = output[:, :, dy:dy + h, dx:dx + w][:, :, m:-m, m:-m]
    input_change = F.mse_loss(noisy, clean)
    return F.mse_loss(moved, reference) / (batch_mean(input_change) if batch_mean else input_change).clamp_min(1e-8)


def save_checkpoint(path: Path, state: dict) -> None:
    """Write a checkpoint atomically, so a kill during the write never loses the previous one; a
    failed write (full disk) leaves the previous checkpoint and no partial file."""
    tmp = path.with_name(path.name + ".partial")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch reports a full disk as RuntimeError
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write the checkpoint {path} ({exc}); the previous checkpoint is kept") from exc


def load_checkpoint(path: str | Path) -> dict:
    """Load a training checkpoint, with a clear error for a missing or foreign file."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint")
    state = load_tensors(path, "training checkpoint")
    if not isinstance(state, dict) or "settings" not in state or "net" not in state:
        raise UserError(f"{path}: not a checkpoint of this tool (no settings and net weights)")
    return state


def net_from_checkpoint(state: dict) -> tuple[torch.nn.Module, TrainSettings]:
    """Rebuild the trained net of a checkpoint; a mismatch with its architecture is a clear error."""
    settings = TrainSettings.from_dict(state["settings"])
    if settings.arch == "fast" and state.get("format", 1) < CHECKPOINT_FORMAT:  # made before today's fast net
        settings.arch = "fast-v1" if "colour.weight" in state["net"] else "fast-v2"
    net = build_net(settings.arch, settings.width)
    try:
        net.load_state_dict(state["net"])
    except RuntimeError as exc:
        raise UserError(
            f"checkpoint weights do not fit architecture {settings.arch!r} at width {settings.width}: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    return net.eval(), settings


def same_layout(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Whether two nets have the same parameter names and shapes (one's weights load into the other)."""
    shapes = lambda net: {k: tuple(v.shape) for k, v in net.state_dict().items()}  # noqa: E731
    return shapes(a) == shapes(b)


def resolve_backbone(backbone: str, backbone_weights: str | None = None) -> str:
    """The loss network ``auto`` stands for: VGG16 when its ImageNet weights are here, else
    effnet-lite0 (with a notice on how to get VGG16)."""
    if backbone != "auto":
        return backbone
    if backbone_weights is not None or find_installed("vgg16") is not None:
        return "vgg16"
    print("note: loss network effnet-lite0, since VGG16 is not installed; for the papers' loss network run "
          "'stylize weights install vgg16'", file=sys.stderr)
    return "effnet-lite0"


def draw_loss_curve(history: list[dict], path: Path) -> None:
    """A PNG line plot of the loss terms against the step (OpenCV only, no plotting library)."""
    w, h, margin = 800, 400, 40
    canvas = np.full((h, w, 3), 255, np.uint8)
    colors = {"total": (0, 0, 0), "content": (200, 80, 0), "style": (0, 0, 200), "tv": (0, 150, 0),
              "temporal": (160, 0, 160)}
    keys = [k for k in colors if any(r.get(k, 0) > 0 for r in history)]
    top = max(r[k] for r in history for k in keys)
    last = max(r["step"] for r in history)
    cv2.rectangle(canvas, (margin, margin), (w - margin, h - margin), (180, 180, 180))
    for i, key in enumerate(keys):
        pts = np.array([[margin + (w - 2 * margin) * r["step"] / last,
                         h - margin - (h - 2 * margin) * r.get(key, 0) / top] for r in history], np.int32)
        cv2.polylines(canvas, [pts], False, colors[key], 1, cv2.LINE_AA)
        cv2.putText(canvas, key, (w - margin - 90, margin + 18 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    colors[key], 1, cv2.LINE_AA)
    cv2.putText(canvas, f"step 0..{last}, loss 0..{top:.3g}", (margin, margin - 12), cv2.FONT_HERSHEY_SIMPLEX,
                0.5, (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, canvas)


def train(settings: TrainSettings, run_dir: str | Path, resume: bool = False,
          backbone_weights: str | None = None, progress: bool = True, device: str = "auto") -> Path:
    """Train a style net into ``run_dir`` (checkpoint, previews, loss curve, settings.json).

    With ``resume`` the run continues from ``run_dir``'s checkpoint, whose settings win except
    ``steps``. ``device``: auto (CUDA when torch sees a GPU), cpu or cuda. Started by torchrun,
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
            print(f"stopped; {last_checkpoint_note(ckpt_path)}", file=sys.stderr)
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


def _train(settings: TrainSettings, run_dir: Path, resume: bool, backbone_weights: str | None, progress: bool,
           world: World, place: torch.device) -> Path:
    ckpt_path = run_dir / CHECKPOINT_NAME
    state = None
    if resume:
        state = load_checkpoint(ckpt_path)
        resumed_net, saved = net_from_checkpoint(state)
        settings = replace(saved, steps=settings.steps)  # the arch as resolved there
    elif ckpt_path.exists():
        raise UserError(f"{run_dir} already holds a training run: pass --resume to continue it, or choose another -o")

    settings.backbone = resolve_backbone(settings.backbone, backbone_weights)
    style_bgr = read_image(settings.style)
    photos = PhotoFolder(settings.data, settings.held_out)
    torch.manual_seed(settings.seed)
    net = resumed_net if state is not None else build_net(settings.arch, settings.width)
    history: list[dict] = []
    start = 0
    if state is None and settings.init_from:
        warm, warm_settings = net_from_checkpoint(load_checkpoint(settings.init_from))
        if not same_layout(warm, net):  # fast-v2 weights do start a fast net: only the padding differs
            raise UserError(f"--init-from {settings.init_from}: a {warm_settings.arch} net at width "
                            f"{warm_settings.width}, but this run trains {settings.arch} at width {settings.width}")
        net.load_state_dict(warm.state_dict())
    net.to(place)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        start, history = state["step"], state["history"]
    seconds_before = state.get("seconds", 0.0) if state is not None else 0.0  # training time of earlier runs
    try:
        network = build_loss_network(settings.backbone, backbone_weights).to(place)
    except Exception as exc:
        raise UserError(str(exc)) from exc
    style = bgr_to_tensor([resize_longer_side(style_bgr, settings.style_size)]).to(place)
    loss = PerceptualLoss.for_style(network, style, settings)
    if world.size > 1:
        loss.batch_mean = world.mean
    if world.is_main:
        ensure_writable_folder(run_dir)
        (run_dir / "settings.json").write_text(json.dumps(settings.to_dict(), indent=2))
    if world.size > 1 and world.is_main:
        print(f"world size {world.size}, batch {settings.batch_size} per rank ({settings.batch_size * world.size} "
              f"a step), {dist_backend()} on {place.type}", file=sys.stderr)
    held_out = bgr_to_tensor(photos.held_out_images(settings.image_size)).to(place)

    def checkpoint(step: int) -> None:
        save_checkpoint(ckpt_path, {"format": CHECKPOINT_FORMAT, "settings": settings.to_dict(),
                                    "net": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                                    "optimizer": optimizer.state_dict(), "step": step, "history": history,
                                    "world_size": world.size, "seconds": seconds_before + time.perf_counter() - began})

    net.train()
    bar = tqdm(range(start, settings.steps), initial=start, total=settings.steps, disable=not (progress and world.is_main),
               desc=f"train {settings.style_name} ({settings.arch})", unit="step")
    began = time.perf_counter()
    step_batch = settings.batch_size * world.size  # one global batch a step, shared out among the ranks
    for step in bar:
        rng = np.random.default_rng([settings.seed, step])  # the batch depends only on seed and step
        batch = bgr_to_tensor(world.share(photos.random_crops(rng, step_batch, settings.image_size))).to(place)
        output = net(batch)
        terms = loss.terms(output, batch)
        if settings.temporal_weight > 0:
            noise = rng.normal(0, TEMPORAL_NOISE, (step_batch, *batch.shape[1:])).astype(np.float32)
            noise = torch.from_numpy(world.share(noise)).to(place)
            shift = tuple(int(v) for v in rng.integers(0, net.size_multiple, 2))
            terms["temporal"] = settings.temporal_weight * temporal_loss(net, batch, output, noise, shift,
                                                                         loss.batch_mean)
            terms["total"] = terms["total"] + terms["temporal"]
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        average_gradients(list(net.parameters()), world)
        optimizer.step()
        record = {"step": step + 1, **average_values({k: float(v.detach()) for k, v in terms.items()}, world, place)}
        history.append(record)
        bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k not in ("step", "total")},
                        skipped=len(photos.unreadable))
        done = step + 1
        if world.is_main and (done % settings.preview_every == 0 or done == settings.steps):
            write_preview(net, held_out, run_dir / "previews" / f"step_{done:06d}.png")
        if world.is_main and (done % settings.checkpoint_every == 0 or done == settings.steps):
            checkpoint(done)
    if world.is_main and (state is None or start < settings.steps):
        summary = {"seconds": time.perf_counter() - began, "steps": settings.steps, "world_size": world.size,
                   "unreadable_images": sorted(str(p) for p in photos.unreadable)}
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if world.is_main and history:
        draw_loss_curve(history, run_dir / "loss_curve.png")
    return ckpt_path


def write_preview(net: torch.nn.Module, held_out: torch.Tensor, path: Path) -> None:
    """A grid: held-out photos on the top row, their stylisations below."""
    if len(held_out) == 0:
        return
    net.eval()
    with torch.no_grad():
        out = net(held_out)
    net.train()
    grid = np.vstack([np.hstack(tensor_to_bgr(held_out)), np.hstack(tensor_to_bgr(out))])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, grid)
