"""The one optimisation loop: its history, its finite check, and L-BFGS's reused evaluations."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from stylize.export.loop import Loop, LoopState  # noqa: E402
from stylize.realtime.core.errors import UserError  # noqa: E402


def quadratic_run(reuse: bool, steps: int = 6) -> tuple[LoopState, int, torch.Tensor]:
    x = torch.tensor([3.0, -2.0], requires_grad=True)
    evaluations = []

    def terms(step: int) -> dict[str, torch.Tensor]:
        evaluations.append(step)
        return {"a": (x[0] - 1) ** 2, "b": 4 * (x[1] + 0.5) ** 2}

    optimizer = torch.optim.LBFGS([x], lr=1.0, max_iter=1, max_eval=20, line_search_fn="strong_wolfe")
    state = Loop(optimizer, steps, "test", show_progress=False, reuse_evaluations=reuse).run(terms)
    return state, len(evaluations), x.detach()


def test_reused_evaluations_save_work_and_record_where_each_step_ended():
    plain, plain_evaluations, plain_x = quadratic_run(reuse=False)
    reused, reused_evaluations, reused_x = quadratic_run(reuse=True)
    assert torch.allclose(plain_x, reused_x)  # the same path
    assert reused_evaluations < plain_evaluations
    totals = [h["total"] for h in reused.history]
    assert all(b <= a for a, b in zip(totals, totals[1:]))  # where each accepted step ended: never higher
    assert [h["step"] for h in reused.history] == list(range(1, 7))
    assert totals[-1] == pytest.approx(float((reused_x[0] - 1) ** 2 + 4 * (reused_x[1] + 0.5) ** 2), abs=1e-6)


def test_a_loss_that_is_not_finite_stops_the_run_with_a_message():
    x = torch.ones(2, requires_grad=True)
    loop = Loop(torch.optim.SGD([x], lr=0.1), 5, "test", show_progress=False)
    with pytest.raises(UserError, match="at step 3"):
        loop.run(lambda step: {"a": (x ** 2).sum() * (float("nan") if step == 2 else 1.0)})


def test_a_resumed_run_goes_on_from_its_step_and_keeps_its_history():
    x = torch.ones(2, requires_grad=True)
    loop = Loop(torch.optim.SGD([x], lr=0.1), 5, "test", show_progress=False)
    state = loop.run(lambda step: {"a": (x ** 2).sum()}, LoopState(step=3, history=[{"step": 3, "a": 0.0}]))
    assert state.step == 5 and [h["step"] for h in state.history] == [3, 4, 5]
