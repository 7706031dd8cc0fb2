"""Leslie Smith's disciplined recipe (arXiv 1803.09820) as runs: a schedule trained at a budget, the
epochs a run needs to reach a target, a knob read from the early validation loss, and how a ranking
read early holds at the end."""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal, Mapping, Sequence

from lrkit.methods.schedules import triangular
from lrkit.runs.training import FitResult, IterationLR, fit_and_record

__all__ = ["RecipeSchedule", "RECIPE_SCHEDULES", "fit_schedule", "epochs_to_target",
           "per_seed_picks", "valid_losses_at", "recipe_condition"]

RecipeSchedule = Literal["one_cycle", "constant", "step", "triangular"]
RECIPE_SCHEDULES: tuple[str, ...] = ("one_cycle", "constant", "step", "triangular")
STEP_FACTOR = 10.0  # a step schedule divides the LR by this at each drop
TRIANGLE_DIV = 25.0  # the triangle's lower bound: lr_max / 25, where fastai's 1cycle starts


def fit_schedule(learn, schedule: str, epochs: int, lr_max: float, *, wd: float | None = None, label: str = "",
                 cycle_epochs: float = 1.0, drops: Sequence[int] = ()) -> FitResult:
    """Train ``learn`` for ``epochs`` with one of Smith's schedules peaking at ``lr_max``:

    - ``one_cycle``: fastai's ``fit_one_cycle``, with its cyclical momentum (0.95 -> 0.85 -> 0.95);
    - ``constant``: ``fit`` at ``lr_max`` throughout;
    - ``step``: the conventional schedule, ``lr_max`` divided by ten after each epoch in ``drops``
      (fixed epochs, not fractions of the run: its first epochs are those of any longer run);
    - ``triangular``: the cyclical LR of Smith 2015 (arXiv 1506.01186), linearly from ``lr_max / 25``
      up to ``lr_max`` and back down, one triangle every ``cycle_epochs`` (back at the bottom when each
      starts, to the iteration); constant momentum.

    ``wd`` is fastai's (decoupled) weight decay, the learner's own when None."""
    if schedule not in RECIPE_SCHEDULES:
        raise ValueError(f"Unknown schedule {schedule!r}; expected one of {list(RECIPE_SCHEDULES)}")
    if not (isinstance(lr_max, (int, float)) and math.isfinite(lr_max) and lr_max > 0):
        raise ValueError(f"Expected a positive lr_max, got {lr_max!r}")
    if wd is not None and not wd >= 0:
        raise ValueError(f"Expected a weight decay of 0 or more, got {wd!r}")
    if schedule == "step" and (not drops or any(not 1 <= d < epochs for d in drops)):
        raise ValueError(f"Expected a step schedule's drops after epochs from 1 to {epochs - 1}, got {list(drops)}")
    extra = {} if wd is None else {"wd": wd}
    label = label or f"{schedule} at {lr_max:.1e}"
    if schedule == "one_cycle":
        return fit_and_record(learn, epochs, lr_max, method="one_cycle", label=label, progress=False, **extra)
    cbs = []
    if schedule == "step":
        per_epoch = len(learn.dls.train)
        cbs.append(IterationLR(lambda it: lr_max / STEP_FACTOR ** sum(it >= d * per_epoch for d in drops)))
    if schedule == "triangular":
        half = cycle_epochs * len(learn.dls.train) / 2  # not rounded: each triangle spans its epochs exactly
        if half < 1:
            raise ValueError(f"Expected a cycle of at least two iterations, got cycle_epochs={cycle_epochs} of "
                             f"{len(learn.dls.train)} iterations per epoch")
        cbs.append(IterationLR(triangular(lr_max / TRIANGLE_DIV, lr_max, half)))
    result = fit_and_record(learn, epochs, lr_max, method="fit", label=label, progress=False, cbs=cbs, **extra)
    return replace(result, method=schedule)


def epochs_to_target(accuracy: Sequence[float], target: float) -> int | None:
    """The first epoch (counted from 1) whose accuracy reaches ``target``; None if none does."""
    return next((e for e, a in enumerate(accuracy, 1) if a >= target), None)


def valid_losses_at(runs: Mapping[float, Sequence[FitResult]], epoch: int | None = None) -> dict[float, list[float]]:
    """Per value of a knob (``runs[value]`` one run per seed, same seed order), each seed's validation loss
    after ``epoch`` epochs (counted from 1), or at the end when None."""
    out = {}
    for value, results in runs.items():
        for r in results:
            if epoch is not None and not 1 <= epoch <= len(r.valid_loss):
                raise ValueError(f"Expected an epoch from 1 to {len(r.valid_loss)}, got {epoch}")
        out[value] = [r.valid_loss[-1 if epoch is None else epoch - 1] for r in results]
    return out


def per_seed_picks(runs: Mapping[float, Sequence[FitResult]], epoch: int | None = None) -> list[float]:
    """For each seed, the knob's value with the lowest validation loss after ``epoch`` epochs (at the end
    when None); a loss that is not finite never wins."""
    losses = valid_losses_at(runs, epoch)
    values = list(losses)
    n = {len(v) for v in losses.values()}
    if len(n) != 1:
        raise ValueError(f"Expected the same number of seeds for every value, got {sorted(n)}")
    key = lambda v, i: losses[v][i] if math.isfinite(losses[v][i]) else math.inf  # noqa: E731
    return [min(values, key=lambda v: key(v, i)) for i in range(n.pop())]


def recipe_condition(lr_max: float, wd: float, bs: int) -> tuple[str, dict]:
    """The label and settings of one cell of the recipe's grid, as :func:`lrkit.runs.compare.run_conditions`
    takes them: the lesson and its panel name a cell the same way, so they share its cached runs."""
    return f"lr {lr_max:.2g}, wd {wd:g}, bs {bs}", {"lr": lr_max, "wd": wd, "bs": bs}
