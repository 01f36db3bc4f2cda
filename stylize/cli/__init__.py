"""The `stylize` command: argument parsing, then one library call per verb; only this layer prints.

It sits above both halves: the runtime verbs (``runtime_verbs``) need numpy, OpenCV and onnxruntime
only; the torch verbs (``training_verbs``) import the training side when they run. Each verb is declared
once in its module (``registry.verb``: its arguments and its handler).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from .arguments import number
from .registry import add_verb_parsers, all_verbs
from ..realtime.core import images
from ..realtime.core.errors import UserError
from ..realtime.core.text import printable

EPILOG = """examples:
  stylize demo                      # no camera needed: writes demo/demo_candy.mp4 and a preview
  stylize video clip.mp4 -o clip_candy.mp4 --model candy
  stylize webcam --model candy --model mosaic
  stylize image photo.jpg -o out/ --model udnie
  stylize models
  stylize serve --open               # the browser page (onnxruntime-web)
  stylize bench --model candy --size 640x480
  stylize train --style painting.jpg --data photos/ -o runs/painting
  stylize export runs/painting -o painting.onnx [--fp16] [--io float-rgb]
  stylize gatys --content photo.jpg --style painting.jpg -o photo_painting.png
  stylize eval --model candy --content photos/ -o report/
  stylize weights install vgg16     # the papers' loss network, once per machine
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of every verb."""
    parser = argparse.ArgumentParser(
        prog="stylize", description="Real-time neural style transfer with ONNX models: webcam, video, images.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-pixels", type=number(int, 1), default=images.MAX_PIXELS, metavar="N",
                        help=f"largest image or frame size accepted, in pixels (default {images.MAX_PIXELS:,}); "
                             "a file claiming more is refused before it is decoded")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    add_verb_parsers(sub)
    return parser


class _StderrHandler(logging.Handler):
    """The library's log records, as plain lines on stderr (read at emit time, so a redirected
    ``sys.stderr`` is honoured)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(printable(self.format(record)), file=sys.stderr)


def show_library_messages() -> logging.Handler:
    """Show what the library logs under the ``stylize`` logger (info and above) while a verb runs."""
    handler = _StderrHandler(logging.INFO)
    logger = logging.getLogger("stylize")
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `stylize` command; returns the exit code."""
    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print as escapes, never raise
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    entered = time.monotonic()
    args = build_parser().parse_args(argv)
    args.started = None if argv is None else entered  # run as the program: timed from the process's start
    handler = show_library_messages()
    previous_term = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        with images.pixel_limit(args.max_pixels):
            return all_verbs()[args.verb].run(args)
    except UserError as exc:
        print(f"stylize {args.verb}: error: {printable(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = "; no partial output was kept" if all_verbs()[args.verb].writes_files else ""
        print(f"stylize {args.verb}: interrupted{kept}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output went to a pipe that closed early (| head): not an error
        sys.stdout = open(os.devnull, "w")  # so the interpreter's final flush does not complain
        return 0
    finally:
        logging.getLogger("stylize").removeHandler(handler)
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        if argv is None and previous_term is not None:  # run as the program: its work is done, it only exits;
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a late Ctrl-C (a double one) must not kill it now


def _terminate(signum, frame) -> None:
    """SIGTERM ends a run the way Ctrl-C does: outputs are finished or removed, never left half-written."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
