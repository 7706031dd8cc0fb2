"""Short training runs whose per-epoch numbers become a result dataclass."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Literal

import fastai.callback.schedule  # noqa: F401  (defines Learner.fit_one_cycle and fit_flat_cos)
from fastai.callback.core import Callback

from lrkit.core.cache import check_fields
from lrkit.methods.discriminative import GroupDrift, GroupLRRecorder, check_lr_spec
from lrkit.methods.lr_free import effective_lr

__all__ = ["FitResult", "fit_and_record", "FitMethod", "IterationLR", "join_runs"]

FitMethod = Literal["fit", "one_cycle", "flat_cos"]


@dataclass(frozen=True)
class FitResult:
    """What a learner saw epoch by epoch; ``diverged`` when the training loss became NaN or inf."""

    label: str
    lr: float
    method: str
    train_loss: tuple[float, ...]
    valid_loss: tuple[float, ...]
    accuracy: tuple[float, ...]
    seconds: tuple[float, ...]  # wall-clock per epoch
    diverged: bool
    lrs: tuple[float, ...] = ()  # LR at every training iteration (last param group)
    moms: tuple[float, ...] = ()  # momentum (Adam's beta1) at every training iteration
    wd: float | None = None
    group_lrs: tuple[tuple[float, ...], ...] = ()  # per layer group, the LR at every training iteration
    effective_lrs: tuple[float, ...] = ()  # the step size taken: d * lr for Prodigy and D-Adaptation
    group_drift: tuple[float, ...] = ()  # per layer group, |w_end - w_start| / |w_start| over the fit

    @property
    def iterations_per_epoch(self) -> int:
        return len(self.lrs) // max(1, len(self.accuracy))

    def lrs_in_epoch(self, e: int) -> tuple[float, ...]:
        """The LR at every iteration of epoch ``e`` (from 0)."""
        n = self.iterations_per_epoch
        return self.lrs[e * n:(e + 1) * n]

    @property
    def lr_per_epoch(self) -> tuple[float, ...]:
        """The LR in force at the end of each epoch."""
        if not self.iterations_per_epoch:
            return ()
        return tuple(self.lrs_in_epoch(e)[-1] for e in range(len(self.accuracy)))

    @property
    def final_accuracy(self) -> float:
        return self.accuracy[-1]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FitResult":
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in check_fields(cls, d).items()}
        d["group_lrs"] = tuple(tuple(g) for g in d.get("group_lrs", ()))
        return cls(**d)


class _EpochTimer(Callback):
    """Wall-clock per epoch, and the momentum at each batch (fastai's Recorder keeps only the LR)."""

    order = 99

    def before_fit(self):
        self.times, self.mom_values, self.effective, self.d_before = [], [], [], None

    def before_batch(self):
        if self.training:  # the d this step is taken with (Prodigy and D-Adaptation update it inside the step)
            self.d_before = self.opt.hypers[-1].get("d")

    def after_batch(self):
        if self.training:
            hypers = self.opt.hypers[-1]
            self.mom_values.append(float(hypers.get("mom", float("nan"))))
            self.effective.append(effective_lr(hypers, self.d_before))

    def before_epoch(self):
        self.t0 = time.perf_counter()

    def after_epoch(self):
        self.times.append(time.perf_counter() - self.t0)


def fit_and_record(learn, epochs: int, lr: float | slice, *, method: FitMethod = "fit", label: str = "",
                   progress: bool = True, cbs=None, **fit_kwargs) -> FitResult:
    """Train ``learn`` for ``epochs`` at ``lr`` (a float, or a slice for discriminative LRs) with
    ``method`` and return the recorded numbers (``FitResult.lr`` is the highest LR).

    A loss that blows up to NaN is not an error here: it is what a too-high LR looks like.
    """
    if epochs < 1:
        raise ValueError(f"Expected at least one epoch, got {epochs}")
    top = check_lr_spec(lr)  # a slice spreads LRs over layer groups
    if len(learn.metrics) != 1:
        raise ValueError(f"Expected a learner with one metric, accuracy (metrics=accuracy), got {len(learn.metrics)}")
    if method not in ("fit", "one_cycle", "flat_cos"):
        raise ValueError(f"Expected method 'fit', 'one_cycle' or 'flat_cos', got {method!r}")
    fit = getattr(learn, "fit" if method == "fit" else f"fit_{method}")
    timer, group_lrs, drift = _EpochTimer(), GroupLRRecorder(), GroupDrift()
    cbs = [timer, group_lrs, drift, *(cbs or [])]
    if progress:  # fastai's bar and its table of epochs, as in fastai's lessons (the table stays)
        fit(epochs, lr, cbs=cbs, **fit_kwargs)
    else:
        with learn.no_logging(), learn.no_bar():
            fit(epochs, lr, cbs=cbs, **fit_kwargs)
    values = [list(map(float, v)) for v in learn.recorder.values]
    train, valid, acc = (tuple(v[i] for v in values) for i in range(3))
    diverged = any(not math.isfinite(x) for x in train + valid)
    return FitResult(label or f"lr {top:g}", float(top), method, train, valid, acc, tuple(timer.times), diverged,
                     tuple(map(float, learn.recorder.lrs)), tuple(timer.mom_values), fit_kwargs.get("wd", learn.wd),
                     tuple(map(tuple, group_lrs.per_group())), tuple(timer.effective), tuple(drift.drift))


class IterationLR(Callback):
    """Sets the LR before every training batch from ``schedule(iteration)``; the count goes on
    across fits, so a schedule can span several ``fit`` calls (a trunk and its branches)."""

    order = 60  # where fastai's ParamScheduler sits

    def __init__(self, schedule, start: int = 0):
        self.schedule, self.iteration = schedule, start

    def before_batch(self):
        if self.training:
            self.opt.set_hyper("lr", self.schedule(self.iteration))

    def after_batch(self):
        if self.training:
            self.iteration += 1


def join_runs(parts: list[FitResult], label: str, method: str) -> FitResult:
    """Consecutive fits of one learner as one run (epochs and iterations in order)."""
    if not parts:
        raise ValueError("Expected at least one run to join, got none")

    def cat(field):
        return tuple(v for p in parts for v in getattr(p, field))

    return FitResult(label, max(p.lr for p in parts), method, cat("train_loss"), cat("valid_loss"), cat("accuracy"),
                     cat("seconds"), any(p.diverged for p in parts), cat("lrs"), cat("moms"), parts[-1].wd, (),
                     cat("effective_lrs"))
