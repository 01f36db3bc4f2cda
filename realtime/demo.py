"""`stylize demo`: shows the tool working on a machine without a camera."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .core.frames import draw_text_lines, side_by_side
from .core.images import read_image, write_image
from .core.outputs import check_outputs, ensure_writable_folder
from .frame_stylizer import FrameStylizer
from .video_conversion import convert_video
from .video_io import VideoWriter, open_video_file


SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SAMPLE_PHOTOS = ("chelsea.jpg", "coffee.jpg")  # CC0 photos, see samples/README.md
CLIP_SIZE = (576, 384)
SECONDS_PER_PHOTO = 2.0


def photo_tour(photo: np.ndarray, size: tuple[int, int], frames: int) -> Iterator[np.ndarray]:
    """A slow camera move over a photo: the view zooms in from the whole photo by a quarter while it
    pans across, so the clip moves like footage (and shows how steady a style is on motion)."""
    height, width = photo.shape[:2]
    aspect = size[0] / size[1]
    full_w, full_h = (width, width / aspect) if width / height < aspect else (height * aspect, height)
    for i in range(frames):
        t = i / max(1, frames - 1)
        zoom = 1.0 - 0.25 * t
        w, h = full_w * zoom, full_h * zoom
        x, y = (width - w) * t, (height - h) * 0.5
        view = cv2.getAffineTransform(np.float32([[x, y], [x + w, y], [x, y + h]]),
                                      np.float32([[0, 0], [size[0], 0], [0, size[1]]]))
        yield cv2.warpAffine(photo, view, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def write_sample_clip(path: Path, fps: float = 30.0) -> None:
    """The demo's own clip: a camera move over each shipped sample photo."""
    with VideoWriter(path, CLIP_SIZE, fps) as writer:
        for name in SAMPLE_PHOTOS:
            for frame in photo_tour(read_image(SAMPLES_DIR / name), CLIP_SIZE, int(fps * SECONDS_PER_PHOTO)):
                writer.write(frame)
        writer.finish()


@dataclass
class DemoResult:
    """What the demo wrote and how fast it ran."""

    video: Path
    preview: Path
    frames: int
    clip: str
    seconds: float
    rates: str
    provider: str

    def summary(self) -> str:
        return (f"demo: {self.frames} frames of {self.clip} in {self.seconds:.1f} s ({self.rates}, {self.provider})"
                f"\n  video:   {self.video}\n  preview: {self.preview}")


def run_demo(stylize: FrameStylizer, output_dir: str, video: str | None = None) -> DemoResult:
    """Stylize a short clip (``video``, or one filmed from the shipped sample photos) into
    ``output_dir``: the video and a preview PNG with original frames and their stylized versions
    side by side, one from the first and one from the second half (both sample photos). The demo
    replaces its own earlier outputs; it never writes over its input."""
    out = Path(output_dir)
    name = stylize.name
    target, preview = out / f"demo_{name}.mp4", out / f"demo_{name}.png"
    inputs = [Path(video)] if video else []
    check_outputs(inputs, [target, preview], overwrite=True)
    ensure_writable_folder(out)
    generated = video is None
    with tempfile.TemporaryDirectory(prefix="stylize-demo-") as tmp:
        source = Path(tmp) / "sample_photos.mp4" if generated else Path(video)
        if generated:
            write_sample_clip(source)
        times = convert_video(source, target, stylize)
        rows = [side_by_side(frame, stylize(frame)) for frame in frames_at(source, (0.25, 0.75))]
    if rows:
        panel = np.ascontiguousarray(np.vstack(rows))
        write_image(preview, draw_text_lines(panel, [f"original | {name}"]))
    label = f"a camera move over {' and '.join(SAMPLE_PHOTOS)}" if generated else source.name
    return DemoResult(target, preview, times.frames, label, times.wall, times.rates(), stylize.session.provider)


def frames_at(clip: Path, fractions: tuple[float, ...]) -> list[np.ndarray]:
    """The frames at these fractions of a clip's length (those that can be read)."""
    cap, info = open_video_file(clip)
    found = []
    try:
        for fraction in fractions:
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(info.frames * fraction))
            ok, frame = cap.read()
            if ok:
                found.append(frame)
    finally:
        cap.release()
    return found
