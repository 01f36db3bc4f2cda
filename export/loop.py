"""The one optimisation loop of export/: the style nets (:mod:`.train`), the live model (:mod:`.distill`),
its refinements (:mod:`.style_refine`, :mod:`.net_refine`) and Gatys' optimisation of a picture
(:mod:`.gatys`). Each supplies its loss terms for a step; the loop does the rest the same way for all: the
optimiser step, the finite check, the history, the progress bar, checkpoints every N steps and where a
resumed run stands."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from ..realtime.core.errors import UserError

LossTerms = Callable[[int], dict[str, torch.Tensor]]  # step (from 0) -> named loss terms, already weighted


@dataclass
class LoopState:
    """Where a run stands: saved in its checkpoints, given back to :meth:`Loop.run` on resume."""

    step: int = 0
    seconds: float = 0.0  # optimisation time of every run so far, resumed ones included
    history: list[dict] = field(default_factory=list)  # one record of the terms per step


def diverged_message(step: int, total: float) -> str:
    return (f"the loss became {total} at step {step} (weights too large? a lower --lr or smaller loss weights "
            "help); nothing non-finite was saved")


@dataclass
class Loop:
    """Runs ``steps`` optimiser steps on the sum of the loss terms.

    ``checkpoint(state)`` is called every ``checkpoint_every`` steps and after the last; ``after_step(done,
    record)`` after each step with its figures (previews, progress reports); ``before_update()`` between backward and the update (averaging
    gradients over processes); ``summarise(record)`` turns a step's figures into what the history keeps
    (their mean over processes). A non-finite loss, or a non-finite value in ``watched``, stops the run with
    a :class:`UserError` (``message(step, total)`` plus ``note()``, where to resume) before anything of
    that step is saved."""

    optimizer: torch.optim.Optimizer
    steps: int
    description: str
    show_progress: bool = True
    checkpoint: Callable[[LoopState], None] | None = None
    checkpoint_every: int = 0
    after_step: Callable[[int, dict[str, float]], None] | None = None
    before_update: Callable[[], None] | None = None
    summarise: Callable[[dict[str, float]], dict[str, float]] | None = None
    watched: Sequence[torch.Tensor] = ()
    message: Callable[[int, float], str] = diverged_message
    note: Callable[[], str] | None = None
    shown: Callable[[dict[str, float]], dict[str, str]] | None = None  # the progress bar's figures
    progress_total: int | None = None  # the progress bar's length, where this run is a part of a longer one
    # L-BFGS evaluates, at the start of a step, the point where the previous one ended: with this, an evaluation
    # at the parameters of the one before is reused, and the history keeps the terms where each step ended
    reuse_evaluations: bool = False
    _last: dict | None = field(default=None, init=False, repr=False)

    def run(self, terms: LossTerms, state: LoopState | None = None) -> LoopState:
        """Optimise from ``state`` (a new run: step 0) to ``steps``; returns where the run ends."""
        state = state or LoopState()
        with tqdm(total=self.progress_total or self.steps, initial=state.step, desc=self.description, unit="step",
                  disable=not self.show_progress) as bar:
            while state.step < self.steps:
                started = time.perf_counter()
                record = self._step(terms, state.step)
                state.step += 1
                state.seconds += time.perf_counter() - started
                state.history.append({"step": state.step, **record})
                bar.update(1)
                bar.set_postfix(self.shown(record) if self.shown else
                                {k: f"{v:.3f}" for k, v in record.items() if k != "total"})
                if self.after_step is not None:
                    self.after_step(state.step, record)
                if self.checkpoint is not None and (state.step == self.steps or
                                                    (self.checkpoint_every and state.step % self.checkpoint_every == 0)):
                    self.checkpoint(state)
        return state

    def _parameters(self) -> list[torch.Tensor]:
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def _reuse(self, named: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The last evaluation's total, its gradients put back, if the parameters have not moved since."""
        last, parameters = self._last, self._parameters()
        if last is None or not all(torch.equal(a, p) for a, p in zip(last["at"], parameters)):
            return None
        for p, grad in zip(parameters, last["grads"]):
            p.grad = grad.clone()
        named.clear()
        named.update(last["named"])
        return named["total"]

    def _step(self, terms: LossTerms, step: int) -> dict[str, float]:
        named: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            reused = self._reuse(named) if self.reuse_evaluations else None
            if reused is not None:
                return reused
            self.optimizer.zero_grad(set_to_none=True)
            named.clear()
            named.update(terms(step))
            named.pop("total", None)  # the loop sums the terms itself
            total = sum(named.values())
            total.backward()
            if self.before_update is not None:
                self.before_update()
            named["total"] = total
            if self.reuse_evaluations:
                parameters = self._parameters()
                self._last = {"at": [p.detach().clone() for p in parameters],
                              "grads": [p.grad.clone() for p in parameters],
                              "named": {k: v.detach() for k, v in named.items()}}
            return total

        self.optimizer.step(closure)
        if self.reuse_evaluations:  # the terms where the step ended (free where its last evaluation was there)
            closure()
        record = {k: float(v.detach()) for k, v in named.items()}
        if self.summarise is not None:
            record = self.summarise(record)
        if not (torch.isfinite(torch.tensor(record["total"])) and all(torch.isfinite(t).all() for t in self.watched)):
            note = f": {self.note()}" if self.note is not None else ""
            raise UserError(self.message(step + 1, record["total"]) + note)
        return record
