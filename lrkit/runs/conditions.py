"""One training condition = an optimizer and an LR schedule at the same budget, for comparing the
range test's choice with optimizers that choose for themselves; warmup-stable-decay's branches."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Iterator, Literal, Sequence

import torch

from lrkit.methods.learner_state import preserved_state
from lrkit.methods.lr_free import LR_FREE, OPTIMIZERS, ScheduleFreeModes, optimizer_func
from lrkit.methods.schedules import sched_cos, wsd
from lrkit.runs.training import FitResult, IterationLR, fit_and_record, join_runs

__all__ = ["ScheduleName", "SCHEDULES", "train_condition", "wsd_branches"]

ScheduleName = Literal["one_cycle", "cosine", "constant", "wsd"]
SCHEDULES: tuple[str, ...] = ("one_cycle", "cosine", "constant", "wsd")
WARMUP_FRACTION = 0.05  # of all iterations, for WSD and schedule-free AdamW
DECAY_FRACTION = 0.2  # WSD's decay: Hägele et al. find 20% of the run enough
WARMS_UP = ("one_cycle", "wsd")  # schedules that start with a warm-up


def train_condition(learn, optimizer: str, schedule: str, epochs: int, lr_max: float | None = None, *,
                    label: str = "", progress: bool = False) -> FitResult:
    """Train a fresh ``learn`` for ``epochs`` with ``optimizer`` and ``schedule``.

    ``lr_max`` is the range test's pick for Adam and schedule-free AdamW; Prodigy and D-Adaptation
    train at ``lr = 1`` (their step is ``d * lr``), so for them it must be left out. Schedule-free
    AdamW takes no schedule (``'constant'``, with its own short warm-up)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {optimizer!r}; expected one of {list(OPTIMIZERS)}")
    if schedule not in SCHEDULES:
        raise ValueError(f"Unknown schedule {schedule!r}; expected one of {list(SCHEDULES)}")
    if optimizer in LR_FREE:
        if lr_max is not None:
            raise ValueError(f"{optimizer} sets its own step size (lr = 1); expected lr_max=None, got {lr_max}")
        lr = 1.0
    else:
        if lr_max is None or not lr_max > 0:
            raise ValueError(f"Expected a positive lr_max for {optimizer} (the range test's pick), got {lr_max}")
        lr = float(lr_max)
    if optimizer == "schedulefree_adamw" and schedule != "constant":
        raise ValueError(f"Schedule-free AdamW replaces the schedule; expected schedule='constant', got {schedule!r}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"Expected a positive whole number of epochs, got {epochs!r}")
    n = epochs * len(learn.dls.train)
    warmup = max(1, round(WARMUP_FRACTION * n))
    _like_for_like(learn, optimizer_func(optimizer, warmup_steps=warmup, schedule_warmup=schedule in WARMS_UP))
    label = label or f"{optimizer}, {schedule}"
    cbs = [ScheduleFreeModes()] if optimizer == "schedulefree_adamw" else []
    if schedule == "one_cycle":
        fit = partial(fit_and_record, learn, epochs, lr, method="one_cycle")
    else:
        if schedule == "cosine":
            cosine = sched_cos(lr, lr / 1e5)
            cbs.append(IterationLR(lambda i: cosine(i / n)))
        elif schedule == "wsd":
            decay = max(1, round(DECAY_FRACTION * n))
            cbs.append(IterationLR(wsd(lr, warmup, n - decay, decay)))
        fit = partial(fit_and_record, learn, epochs, lr, method="fit")
    with _averaged_on_exit(learn, optimizer):
        result = fit(label=label, progress=progress, cbs=cbs)
    return result if schedule == "one_cycle" else replace(result, method=schedule)  # our own schedule: name it


def _like_for_like(learn, opt_func) -> None:
    """The learner set to build ``opt_func`` at its next fit, with weight decay on every parameter as
    the wrapped PyTorch optimizers apply it (fastai skips batch norm and biases by default)."""
    learn.opt_func, learn.opt, learn.wd_bn_bias = opt_func, None, True


@contextmanager
def _averaged_on_exit(learn, optimizer: str) -> Iterator[None]:
    """A schedule-free learner left at its averaged weights (optimizer in ``eval()`` mode) however the
    fit ends: fastai runs no callback after an interrupt or an error, so ScheduleFreeModes cannot."""
    try:
        yield
    finally:
        opt = getattr(learn.opt, "opt", None)
        if optimizer == "schedulefree_adamw" and opt is not None:
            opt.eval()


@contextmanager
def _preserved_rng(learn) -> Iterator[None]:
    """The shuffle order and torch's generator as they were, so a branch leaves no trace on the trunk."""
    dl_rng, torch_rng = learn.dls.train.rng.getstate(), torch.get_rng_state()
    try:
        yield
    finally:
        learn.dls.train.rng.setstate(dl_rng)
        torch.set_rng_state(torch_rng)


def wsd_branches(learn, epochs: int, lr_max: float, decay_starts: Sequence[int], *, decay_epochs: int,
                 optimizer: str = "adam", label: str = "WSD") -> list[FitResult]:
    """One warmup-stable-decay run of ``learn`` with a decay branched off after each number of
    epochs in ``decay_starts``: the stable trunk trains once; each branch decays for ``decay_epochs``
    from a snapshot of the trunk (weights, optimizer state, shuffle order), which then goes on
exactly as if the branch had not happened.

    Returns one result per branch, trunk epochs and decay epochs joined, shortest first."""
    starts = sorted(set(decay_starts))
    if not starts or starts[0] < 1 or len(starts) != len(decay_starts):
        raise ValueError(f"Expected distinct positive epochs at which decays start, got {list(decay_starts)}")
    if not isinstance(decay_epochs, int) or decay_epochs < 1:
        raise ValueError(f"Expected a positive whole number of decay epochs, got {decay_epochs!r}")
    if starts[-1] + decay_epochs != epochs:
        raise ValueError(f"Expected the last branch to end at the budget: decay_starts[-1] + decay_epochs = "
                         f"{starts[-1] + decay_epochs}, epochs = {epochs}")
    if optimizer in LR_FREE or optimizer == "schedulefree_adamw":
        raise ValueError(f"Expected an optimizer that follows a schedule (adam), got {optimizer!r}")
    per_epoch = len(learn.dls.train)
    warmup = max(1, round(WARMUP_FRACTION * epochs * per_epoch))
    if starts[0] * per_epoch < warmup:
        raise ValueError(f"Expected every decay to start after the warm-up ({warmup} iterations, "
                         f"{warmup / per_epoch:.2f} epochs), got a decay after epoch {starts[0]}; start it later "
                         "or train for more epochs")
    _like_for_like(learn, optimizer_func(optimizer))
    trunk_lr = IterationLR(wsd(lr_max, warmup, 10 ** 12, 1))  # warm-up, then flat: the decay never comes
    trunk, done, branches = [], 0, []
    for start in starts:
        if start > done:
            trunk.append(fit_and_record(learn, start - done, lr_max, label=label, progress=False, cbs=[trunk_lr]))
            done = start
        with preserved_state(learn.model, learn.opt), _preserved_rng(learn):
            decay = IterationLR(wsd(lr_max, warmup, start * per_epoch, decay_epochs * per_epoch), start * per_epoch)
            tail = fit_and_record(learn, decay_epochs, lr_max, label=label, progress=False, cbs=[decay])
        branches.append(join_runs([*trunk, tail], f"{label}: decay after epoch {start}", "wsd"))
    return branches
