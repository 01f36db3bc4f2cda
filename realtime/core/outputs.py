"""One rule for every verb that writes: never over an input, never over an existing file without
``--overwrite``, and find out that the output can be written before long work starts."""
from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError

MAX_NAME_BYTES = 255  # a file name's limit on the common file systems


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same resolved path (symlinks followed) or a hard link."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(inputs: list[Path], targets: list[Path], overwrite: bool) -> None:
    """Refuse, before any work starts, to write one file twice, to overwrite an input (also through a
    symlink or a hard link; ``--overwrite`` never allows that), or to replace an existing file
    without ``overwrite``."""
    inputs, targets = [Path(p) for p in inputs], [Path(p) for p in targets]
    if len({t.resolve() for t in targets}) != len(targets):
        raise UserError("two outputs would be the same file (same file name in different folders?)")
    for target in targets:
        if len(os.fsencode(target.name)) > MAX_NAME_BYTES:  # a generated name (<input>_<style>) can pass the limit
            raise UserError(f"{target.name[:40]}...: an output name of {len(os.fsencode(target.name))} bytes is over "
                            f"the file system's {MAX_NAME_BYTES}; give a shorter -o file name")
        if any(_same_file(target, source) for source in inputs):
            raise UserError(f"{target}: the output would overwrite an input; choose another output name")
        if target.is_dir():
            raise UserError(f"{target} is a folder; give a file name for the output")
        if target.exists() and not overwrite:
            raise UserError(f"{target} already exists: pass --overwrite (overwrite=True in the Python API) to replace it")


def ensure_writable_folder(folder: Path) -> None:
    """Create ``folder`` if needed and prove a file can be written in it (a clear error otherwise)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {folder} ({exc.strerror})") from exc
    try:  # a probe of its own (threads and processes checking one folder at once must not share one)
        fd, probe = tempfile.mkstemp(prefix=".stylize-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"output folder {folder} is not writable ({exc.strerror})") from exc


def prepare_output_file(target: str | Path, inputs: list[str | Path], overwrite: bool,
                        suffixes: tuple[str, ...] | None = None) -> Path:
    """Every check for one output file: its suffix, inputs and existing files, a writable folder."""
    target = Path(target)
    check_outputs([Path(p) for p in inputs], [target], overwrite)
    if suffixes and target.suffix.lower() not in suffixes:
        raise UserError(f"{target}: unknown output type {target.suffix or '(none)'!r}; use one of {', '.join(suffixes)}")
    if not target.parent.is_dir():
        raise UserError(f"{target.parent}: no such folder for the output")
    ensure_writable_folder(target.parent)
    return target


def reserve_temporary(target: str | Path) -> Path:
    """A new, empty file with a unique name beside ``target`` (``.<stem>.<random>.partial<suffix>``),
    created exclusively: an output is written there, then renamed into place. No existing file (an
    input that happens to look like one, another run's temporary file) is ever reused or deleted."""
    target = Path(target)
    stem, suffix = target.stem, f".partial{target.suffix}"
    while stem and len(os.fsencode(f".{stem}.{'x' * 8}{suffix}")) > MAX_NAME_BYTES:  # an output name near the limit
        stem = stem[:-1]
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=suffix, dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # as an ordinary new file (mkstemp makes it private)
    except (AttributeError, OSError):  # no fchmod (Windows): the file keeps mkstemp's mode
        pass
    finally:
        os.close(fd)
    return Path(name)


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(tmp: Path, target: Path, overwrite: bool) -> None:
    """Move a finished temporary file to ``target``. Without ``overwrite`` the name is taken exclusively
    (a hard link fails if it exists), so of two threads or processes writing one new output, the later
    one is refused instead of replacing the first one's file."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: claim the name exclusively, then fill it
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            os.replace(tmp, target)
    except FileExistsError:
        raise UserError(f"{target} already exists (another run wrote it meanwhile): pass --overwrite "
                        "(overwrite=True in the Python API) to replace it") from None
    tmp.unlink(missing_ok=True)


@contextmanager
def atomic_output(target: str | Path, overwrite: bool = True) -> Iterator[Path]:
    """A fresh temporary file beside ``target`` to write: moved into place when the block ends without
    error (over an existing file only with ``overwrite``), removed when it fails or is interrupted, so
    ``target`` is never half-written."""
    target = Path(target)
    tmp: Path | None = None
    try:
        with deferred_signals():  # a Ctrl-C while the file is made comes once it is known, to be removed
            tmp = reserve_temporary(target)
        yield tmp
        publish(tmp, target, overwrite)
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block ends, then act as they would have: for steps that must not be
    cut in half, such as making a temporary file and taking charge of it, or starting an encoder beside it.
    Python runs signal handlers on the main thread only; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    if None in previous.values():  # a handler set outside Python: left alone
        yield
        return
    for number in previous:
        signal.signal(number, lambda received, frame: caught.append(received))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if caught:
        handler = previous[caught[0]]
        if callable(handler):  # Python's (KeyboardInterrupt) or the program's own
            handler(caught[0], None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(caught[0])
