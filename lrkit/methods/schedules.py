"""Learning-rate and momentum schedules as small pure functions.

A schedule maps a position ``pos`` in [0, 1) (the fraction of training done) to a value.
fastai samples it at ``pos = i / n_iter`` before batch ``i``; :func:`sample` does the same.
Definitions follow fastai 2.8 (``fastai/callback/schedule.py``) and L. Smith, "A disciplined
approach to neural network hyper-parameters" (arXiv 1803.09820) and "Cyclical Learning Rates"
(arXiv 1506.01186).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = [
    "Sched", "sched_cos", "combine", "one_cycle", "flat_cos", "constant", "triangular",
    "sample", "ScheduleShape", "one_cycle_shape", "wsd",
]

Sched = Callable[[float], float]


def sched_cos(start: float, end: float) -> Sched:
    """Half a cosine from ``start`` to ``end``."""
    return lambda pos: start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def combine(pcts: Sequence[float], scheds: Sequence[Sched]) -> Sched:
    """Run ``scheds[k]`` over the ``pcts[k]`` fraction of training, one after the other.

    Positions are compared in float32, as fastai's ``combine_scheds`` does with a tensor.
    """
    if len(pcts) != len(scheds) or not len(pcts):
        raise ValueError(f"Expected one fraction per schedule, got {len(pcts)} fractions and {len(scheds)} schedules")
    if abs(sum(pcts) - 1) > 1e-6 or min(pcts) < 0:
        raise ValueError(f"Expected non-negative fractions summing to 1, got {list(pcts)}")
    edges = np.cumsum(np.asarray([0.0, *pcts], dtype=np.float32), dtype=np.float32)
    last = len(edges) - 2

    def at(pos: float) -> float:
        p = np.float32(pos)
        k = min(int(np.flatnonzero(p >= edges).max()), last)
        return scheds[k](float((p - edges[k]) / (edges[k + 1] - edges[k])))

    return at


def one_cycle(lr_max: float, div: float = 25.0, div_final: float = 1e5, pct_start: float = 0.25,
              moms: tuple[float, float, float] = (0.95, 0.85, 0.95)) -> tuple[Sched, Sched]:
    """fastai's 1cycle: LR warms up (cosine) from ``lr_max/div`` to ``lr_max`` over ``pct_start``,
    then anneals to ``lr_max/div_final``; momentum moves the opposite way."""
    _check_pct(pct_start)
    if lr_max <= 0 or div <= 0 or div_final <= 0:
        raise ValueError(f"Expected positive lr_max, div and div_final, got {lr_max}, {div}, {div_final}")
    lr = combine([pct_start, 1 - pct_start], [sched_cos(lr_max / div, lr_max), sched_cos(lr_max, lr_max / div_final)])
    mom = combine([pct_start, 1 - pct_start], [sched_cos(moms[0], moms[1]), sched_cos(moms[1], moms[2])])
    return lr, mom


def flat_cos(lr: float, div_final: float = 1e5, pct_start: float = 0.75) -> Sched:
    """fastai's ``fit_flat_cos``: flat at ``lr`` for ``pct_start``, then cosine down to ``lr/div_final``."""
    _check_pct(pct_start)
    return combine([pct_start, 1 - pct_start], [sched_cos(lr, lr), sched_cos(lr, lr / div_final)])


def constant(lr: float) -> Sched:
    return lambda pos: lr


def triangular(base_lr: float, max_lr: float, step_size: int) -> Callable[[int], float]:
    """Smith's triangular cyclical LR, by iteration: up from ``base_lr`` to ``max_lr`` over
    ``step_size`` iterations, back down over the next ``step_size``, and again."""
    if step_size < 1:
        raise ValueError(f"Expected a positive integer step_size, got {step_size}")

    def at(it: int) -> float:
        cycle = math.floor(1 + it / (2 * step_size))
        x = abs(it / step_size - 2 * cycle + 1)
        return base_lr + (max_lr - base_lr) * max(0.0, 1 - x)

    return at


def wsd(lr_max: float, warmup: int, decay_start: int, decay_len: int) -> Callable[[int], float]:
    """Warmup-stable-decay (Hägele et al. 2024, arXiv 2405.18392), by iteration: linear warm-up
    over ``warmup`` iterations, flat at ``lr_max`` until ``decay_start``, then down to 0 over
    ``decay_len`` iterations along ``1 - sqrt`` (the paper's best shape). Until ``decay_start`` the
    schedule does not depend on when the decay starts: one run can branch several decays."""
    if lr_max <= 0:
        raise ValueError(f"Expected a positive lr_max, got {lr_max}")
    if not (0 <= warmup <= decay_start and decay_len >= 1):
        raise ValueError(f"Expected 0 <= warmup <= decay_start and decay_len >= 1, got warmup={warmup}, "
                         f"decay_start={decay_start}, decay_len={decay_len}")

    def at(it: int) -> float:
        if it < warmup:
            return lr_max * (it + 1) / warmup
        if it < decay_start:
            return lr_max
        return lr_max * max(0.0, 1 - math.sqrt(min(1.0, (it - decay_start) / decay_len)))

    return at


def sample(sched: Sched, n_iter: int) -> list[float]:
    """The values fastai sets before each of ``n_iter`` batches: ``sched(i / n_iter)``."""
    if n_iter < 1:
        raise ValueError(f"Expected a positive number of iterations, got {n_iter}")
    return [sched(i / n_iter) for i in range(n_iter)]


def _check_pct(pct_start: float) -> None:
    if not 0 < pct_start < 1:
        raise ValueError(f"Expected pct_start strictly between 0 and 1, got {pct_start}")


@dataclass(frozen=True)
class ScheduleShape:
    """LR and momentum at every iteration of a run."""

    lrs: tuple[float, ...]
    moms: tuple[float, ...]
    n_epoch: int
    n_iter_per_epoch: int


def one_cycle_shape(n_epoch: int, n_iter_per_epoch: int, lr_max: float, div: float = 25.0, div_final: float = 1e5,
                    pct_start: float = 0.25, moms: tuple[float, float, float] = (0.95, 0.85, 0.95)) -> ScheduleShape:
    """The whole 1cycle schedule of a ``fit_one_cycle(n_epoch, lr_max, ...)`` run, without training."""
    lr, mom = one_cycle(lr_max, div, div_final, pct_start, moms)
    n = n_epoch * n_iter_per_epoch
    return ScheduleShape(tuple(sample(lr, n)), tuple(sample(mom, n)), n_epoch, n_iter_per_epoch)
