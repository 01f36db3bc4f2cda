"""The verbs of the `stylize` command, each declared once: its parser's arguments and its handler together.

    def video_arguments(p: argparse.ArgumentParser) -> None: ...

    @verb("video", "stylize video files offline (audio kept)", video_arguments)
    def run_video(args: argparse.Namespace) -> int: ...
"""
from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verb:
    """One verb: ``arguments`` adds its options to its parser, ``run`` carries it out and returns the exit code.
    ``writes_files``: it writes outputs that an interrupt could cut (the message then says none was kept)."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None
    writes_files: bool = True


VERBS: dict[str, Verb] = {}
VERB_MODULES = ("runtime_verbs", "training_verbs")


def verb(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None], *,
         description: str | None = None, writes_files: bool = True):
    """Register the decorated handler as the verb ``name`` (in the order ``--help`` lists them)."""
    def register(run: Callable[[argparse.Namespace], int]):
        if name in VERBS:
            raise AssertionError(f"verb {name!r} declared twice")
        VERBS[name] = Verb(name, help, arguments, run, description, writes_files)
        return run
    return register


def all_verbs() -> dict[str, Verb]:
    """Every verb, runtime verbs first (importing their modules registers them)."""
    for module in VERB_MODULES:
        importlib.import_module(f".{module}", __package__)
    return VERBS


def add_verb_parsers(sub: argparse._SubParsersAction) -> None:
    """One sub-parser per verb."""
    for v in all_verbs().values():
        v.arguments(sub.add_parser(v.name, help=v.help, description=v.description))
