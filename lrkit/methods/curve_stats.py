"""Numbers read off one range-test curve, beyond fastai's four suggestions: how noisy it is, where
the loss takes off, and the statistics a batch-size sweep compares."""
from __future__ import annotations

from typing import Callable

import numpy as np

from lrkit.methods.range_test import FinderResult

__all__ = ["curve_noise", "divergence_lr", "pick_lr_max", "STATISTICS"]


def curve_noise(result: FinderResult, frac: float = 0.5) -> float:
    """How noisy a curve is: the spread of step-to-step changes of the raw loss over the first
    ``frac`` of the schedule, where the LR is too small to change the model and what varies is
    the mini-batch. Falls as 1/sqrt(batch size)."""
    raw = np.asarray(result.raw_losses[: max(3, int(len(result.raw_losses) * frac))])
    return float(np.std(np.diff(raw)) / np.sqrt(2))


def divergence_lr(result: FinderResult, factor: float = 2.0, baseline_frac: float = 0.25) -> float | None:
    """The LR at which the loss takes off: the first LR, after the first ``baseline_frac`` of the
    run, where the smoothed loss exceeds ``factor`` x its starting level (the median raw loss
    over that first part, where the LR is too small to matter). A median, not a minimum, so a
    few lucky small batches do not set the bar. None if the curve never got there."""
    n0 = max(1, int(len(result.raw_losses) * baseline_frac))
    start = float(np.median(result.raw_losses[:n0]))
    for lr, loss in zip(result.lrs[n0:], result.losses[n0:]):
        if not np.isfinite(loss) or loss > factor * start:
            return lr
    return None


STATISTICS: dict[str, Callable[[FinderResult], float | None]] = {
    "valley": lambda r: r.suggestions.get("valley"),
    "slide": lambda r: r.suggestions.get("slide"),
    "minimum": lambda r: r.suggestions.get("minimum"),
    "steep": lambda r: r.suggestions.get("steep"),
    "take-off LR (loss x2)": lambda r: divergence_lr(r),
}


def pick_lr_max(result: FinderResult, drop: float = 0.05) -> float | None:
    """An ``lr_max`` for 1cycle read off a range test: fastai's ``minimum`` (a tenth of the LR at the
    lowest smoothed loss) when the curve falls by at least ``drop`` (a fraction) below its level at
    the start of the schedule's second tenth; otherwise the lowest point is noise on a flat curve,
    and a tenth of the LR where the loss takes off (:func:`divergence_lr`) is the pick."""
    start = result.losses[min(len(result.losses) - 1, result.settings.num_it // 10)]
    if min(result.losses) < (1 - drop) * start and result.suggestions.get("minimum") is not None:
        return result.suggestions["minimum"]
    take_off = divergence_lr(result)
    return None if take_off is None else take_off / 10
