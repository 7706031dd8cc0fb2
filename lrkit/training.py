"""Short training runs whose per-epoch numbers become a result dataclass."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Literal

import fastai.callback.schedule  # noqa: F401  (defines Learner.fit_one_cycle and fit_flat_cos)
from fastai.callback.core import Callback

__all__ = ["FitResult", "fit_and_record", "FitMethod"]

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

    @property
    def final_accuracy(self) -> float:
        return self.accuracy[-1]

    def to_dict(self) -> dict:
        return asdict(self)


class _EpochTimer(Callback):
    order = 99

    def before_fit(self):
        self.times = []

    def before_epoch(self):
        self.t0 = time.perf_counter()

    def after_epoch(self):
        self.times.append(time.perf_counter() - self.t0)


def fit_and_record(learn, epochs: int, lr: float, *, method: FitMethod = "fit", label: str = "",
                   progress: bool = True) -> FitResult:
    """Train ``learn`` for ``epochs`` at ``lr`` with ``method`` and return the recorded numbers.

    A loss that blows up to NaN is not an error here: it is what a too-high LR looks like.
    """
    if epochs < 1:
        raise ValueError(f"Expected at least one epoch, got {epochs}")
    if not lr > 0:
        raise ValueError(f"Expected a positive learning rate, got {lr}")
    if method not in ("fit", "one_cycle", "flat_cos"):
        raise ValueError(f"Expected method 'fit', 'one_cycle' or 'flat_cos', got {method!r}")
    fit = getattr(learn, "fit" if method == "fit" else f"fit_{method}")
    timer = _EpochTimer()
    with learn.no_logging():
        if progress:
            fit(epochs, lr, cbs=timer)
        else:
            with learn.no_bar():
                fit(epochs, lr, cbs=timer)
    values = [list(map(float, v)) for v in learn.recorder.values]
    train, valid, acc = (tuple(v[i] for v in values) for i in range(3))
    diverged = any(not math.isfinite(x) for x in train + valid)
    return FitResult(label or f"lr {lr:g}", lr, method, train, valid, acc, tuple(timer.times), diverged)
