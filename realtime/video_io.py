"""Video input and output: files, cameras and URLs in; H.264 files with the audio kept out."""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .core import images
from .core.errors import UserError, not_a_file
from .core.outputs import publish, reserve_temporary
from .core.providers import CPU
from .core.text import opencv_path


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int  # as the container reports it; 0 when unknown (cameras, streams)


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped by imageio-ffmpeg (no system ffmpeg needed)."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise UserError("writing video needs the imageio-ffmpeg package: pip install imageio-ffmpeg") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def capture_info(cap: cv2.VideoCapture) -> VideoInfo:
    fps = cap.get(cv2.CAP_PROP_FPS)
    return VideoInfo(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                     fps if 0 < fps < 1000 else 30.0, max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))))


def open_video_file(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a video file for decoding, with a clear error for a missing, non-video or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise not_a_file(path, "video")
    cap = cv2.VideoCapture(opencv_path(path, "video"))
    if not cap.isOpened():
        raise UserError(f"{path}: not a video file OpenCV can decode")
    info = capture_info(cap)
    if info.width <= 0 or info.height <= 0:
        cap.release()
        raise UserError(f"{path}: no video stream found")
    if info.width * info.height > images.max_pixels():
        cap.release()
        raise UserError(images.over_the_limit(f"{path}: frames", info.width, info.height))
    return cap, info


def media_header(path: str | Path) -> str:
    """What ffmpeg says of a media file's streams (its ``-i`` report)."""
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def has_audio(path: str | Path, header: str | None = None) -> bool:
    """Whether a media file has an audio stream (from its :func:`media_header`, read when not given)."""
    return re.search(r"Stream #\S+.*: Audio:", header if header is not None else media_header(path)) is not None


OWN_PROCESS_GROUP = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if sys.platform == "win32"
                     else {"start_new_session": True})


def parse_camera(spec: str) -> int | str:
    """A camera index ('0'), a device path ('/dev/video2'), a URL or a video file."""
    return int(spec) if spec.isdigit() else spec


def quietly_open(source: int | str) -> cv2.VideoCapture:
    """``cv2.VideoCapture(source)`` without OpenCV's own error lines (a missing camera is reported
    once, in a sentence, by the caller)."""
    if isinstance(source, str):
        source = opencv_path(source, "camera source")
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        return cv2.VideoCapture(source)
    previous = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(source)
    finally:
        logging_api.setLogLevel(previous)


def open_camera(spec: str, size: tuple[int, int] | None) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a camera, URL or file as a live source; requests ``size`` and reports what it really gives."""
    source = parse_camera(spec)
    cap = quietly_open(source)
    if not cap.isOpened():
        hint = " (is a camera connected, and free? see 'stylize webcam --help')" if isinstance(source, int) or \
            str(source).startswith("/dev/") else ""
        raise UserError(f"cannot open camera {spec!r}{hint}")
    if size is not None and (isinstance(source, int) or str(source).startswith("/dev/")):
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    ok, frame = cap.read()
    if not ok or frame is None:
        cap.release()
        raise UserError(f"camera {spec!r} opened but gives no frames")
    info = capture_info(cap)
    info.width, info.height = frame.shape[1], frame.shape[0]
    return cap, info


class LatestFrameReader:
    """Reads a live source in a thread and always hands over the newest frame, never a stale or
    duplicate one: :meth:`next` waits for a frame newer than the last it returned.

    A file used as a camera is paced at its own frame rate, as a camera would deliver it.
    """

    def __init__(self, cap: cv2.VideoCapture, pace_fps: float | None = None):
        self.cap = cap
        self.pace = 1.0 / pace_fps if pace_fps else 0.0
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._captured_at = 0.0
        self._seq = 0
        self._returned = 0
        self._ended = False
        self._stop = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._loop, daemon=True, name="capture")
        self._thread.start()

    def _loop(self) -> None:
        next_time = time.perf_counter()
        while not self._stop:
            ok, frame = self.cap.read()
            if not ok or frame is None:
                break
            with self._cond:
                if self._seq > self._returned:
                    self.dropped += 1
                self._frame, self._seq, self._captured_at = frame, self._seq + 1, time.perf_counter()
                self._cond.notify_all()
            if self.pace:
                next_time += self.pace
                time.sleep(max(0.0, next_time - time.perf_counter()))
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def next(self, timeout: float = 5.0) -> tuple[int, np.ndarray, float] | None:
        """The newest frame not yet returned, as (sequence number, frame, perf_counter time of
        capture); None when the source ended or gave nothing within ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > self._returned or self._ended, timeout):
                return None
            if self._seq == self._returned:
                return None
            self._returned = self._seq
            return self._seq, self._frame, self._captured_at

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2.0)
        self.cap.release()


def encoder_threads_beside(provider: str) -> int | None:
    """Encoder threads for a writer that runs beside inference on ``provider``: one on the CPU, whose
    cores inference keeps busy (x264's frame threads only add work there), the encoder's own choice beside a
    GPU (None)."""
    return 1 if provider == CPU else None


class VideoWriter:
    """Encodes BGR frames to H.264 through ffmpeg, optionally copying the audio of another file.

    Frames go to a temporary file beside ``path``; :meth:`finish` renames it into place, and
    :meth:`abort` (or an exception inside a ``with`` block) deletes it, so ``path`` is never
    half-written.
    """

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float, audio_from: str | Path | None = None,
                 crf: int = 18, threads: int | None = None, overwrite: bool = True):
        self.path, self.overwrite = Path(path), overwrite
        self.tmp = reserve_temporary(self.path)
        self.size = size
        self.frames = 0
        width, height = size
        rate = Fraction(fps).limit_denominator(1001)
        # 4:2:0 needs even sizes; odd sizes keep their size with 4:4:4
        pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        # 4:2:0 frames are converted here (OpenCV's BT.601 limited range, as ffmpeg's default): a millisecond
        # less encoder CPU per 640x480 frame than ffmpeg's own conversion, and half the bytes down the pipe
        self.to_yuv420 = pix_fmt == "yuv420p"
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
               "-pix_fmt", "yuv420p" if self.to_yuv420 else "bgr24", "-s", f"{width}x{height}",
               "-framerate", str(rate), "-i", "-"]
        webm = self.path.suffix.lower() == ".webm"  # WebM holds only VP8/VP9/AV1 video and Vorbis/Opus audio
        if audio_from is not None:
            cmd += ["-i", str(audio_from), "-map", "0:v:0", "-map", "1:a:0?",
                    *(["-c:a", "libopus", "-b:a", "128k"] if webm else ["-c:a", "aac", "-b:a", "192k"])]
        if webm:  # VP9 in its real-time mode; constant quality about that of H.264 at --crf 18
            cmd += ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1",
                    "-crf", str(crf + 13), "-b:v", "0", "-pix_fmt", pix_fmt, *(["-threads", str(threads)] if threads else [])]
        else:
            # superfast with veryfast's macroblock tree: a quarter less encoder CPU (it shares the cores with
            # inference) for files about a tenth larger
            cmd += ["-c:v", "libx264", "-preset", "superfast",
                    "-x264-params", "mbtree=1:rc-lookahead=10" + (f":threads={threads}" if threads else ""),
                    "-crf", str(crf), "-pix_fmt", pix_fmt]
        if self.path.suffix.lower() in (".mp4", ".mov", ".m4v"):
            cmd += ["-movflags", "+faststart"]
        cmd.append(str(self.tmp))
        self._log = tempfile.TemporaryFile()
        try:
            # in a process group of its own: Ctrl-C in a terminal signals the whole foreground group, and
            # an encoder killed first would lose the recording that this process is about to close cleanly
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log,
                                         **OWN_PROCESS_GROUP)
        except OSError as exc:
            raise UserError(f"cannot start ffmpeg: {exc}") from exc

    def _error(self) -> str:
        """ffmpeg's first lines of complaint: the cause comes first, its consequences after."""
        self._log.seek(0)
        return " ".join(self._log.read().decode(errors="replace").strip().splitlines()[:3])[:500]

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[1] != self.size[0] or frame.shape[0] != self.size[1]:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        try:
            data = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420) if self.to_yuv420 else np.ascontiguousarray(frame)
            self.proc.stdin.write(memoryview(data).cast("B"))
        except (BrokenPipeError, OSError):
            self.proc.wait()
            self.abort()
            raise UserError(f"{self.path}: the encoder stopped: {self._error() or 'unknown error'}") from None
        self.frames += 1

    def finish(self) -> Path:
        """Close the encoder and move the finished file into place."""
        self.proc.stdin.close()
        code = self.proc.wait()
        if code != 0 or not self.tmp.exists():
            message = self._error()
            self.abort()
            raise UserError(f"{self.path}: encoding failed: {message or f'ffmpeg exit code {code}'}")
        try:
            publish(self.tmp, self.path, self.overwrite)
        except UserError:
            self.abort()
            raise
        except OSError as exc:
            self.abort()
            raise UserError(f"{self.path}: cannot write ({exc.strerror})") from exc
        self._log.close()
        return self.path

    def abort(self) -> None:
        """Stop the encoder and delete the partial file."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.kill()
            self.proc.wait()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
