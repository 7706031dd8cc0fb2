"""The four learning-rate suggestions of fastai 2.8, as plain functions on a loss curve.

Each takes the LRs and smoothed losses of a range test and returns a :class:`Suggestion`:
the suggested LR and the point to mark on the curve. Definitions follow
``fastai/callback/schedule.py`` (valley, slide, minimum, steep), computed in float32
as fastai does, so the answers agree with ``Learner.lr_find``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np

__all__ = ["Method", "METHODS", "Suggestion", "CurveTooShortError", "valley", "slide", "minimum", "steep",
           "usable_curve", "suggest", "valley_at_edge"]

Method = Literal["valley", "slide", "minimum", "steep"]


@dataclass(frozen=True)
class Suggestion:
    lr: float  # the suggested learning rate
    mark_lr: float  # where to mark it on the loss-vs-LR plot
    mark_loss: float


class CurveTooShortError(ValueError):
    """The range test stopped too early for a suggestion."""


def _arrays(lrs, losses):
    return np.asarray(lrs, dtype=np.float32), np.asarray(losses, dtype=np.float32)


def valley(lrs: Sequence[float], losses: Sequence[float], num_it: int) -> Suggestion:
    """The LR about 2/3 down the longest valley (the longest run of decreasing loss)."""
    lrs, losses = _arrays(lrs, losses)
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n  # lds[i]: length of the longest decreasing subsequence ending at i
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return Suggestion(float(lrs[idx]), float(lrs[idx]), float(losses[idx]))


def slide(lrs: Sequence[float], losses: Sequence[float], num_it: int, lr_diff: int = 15, thresh: float = 0.005,
          adjust_value: float = 1.0) -> Suggestion:
    """Slide a window of ``lr_diff`` points leftwards from the end until the loss gradient flattens."""
    lrs, losses = _arrays(lrs, losses)
    grad = np.gradient(losses)
    r_idx, l_idx = -1, -1 - lr_diff
    local_min_lr = lrs[l_idx]
    while l_idx >= -len(losses) and abs(grad[r_idx] - grad[l_idx]) > thresh:
        local_min_lr = lrs[l_idx]
        r_idx -= 1
        l_idx -= 1
    lr = float(local_min_lr) * adjust_value
    return Suggestion(lr, lr, float(np.interp(np.log10(lr), np.log10(lrs), losses)))


def minimum(lrs: Sequence[float], losses: Sequence[float], num_it: int) -> Suggestion:
    """One tenth of the LR at the lowest loss."""
    lrs, losses = _arrays(lrs, losses)
    i = int(losses.argmin())
    return Suggestion(float(lrs[i]) / 10, float(lrs[i]), float(losses[i]))


def steep(lrs: Sequence[float], losses: Sequence[float], num_it: int) -> Suggestion:
    """The LR where the loss falls fastest per unit of log-LR."""
    lrs, losses = _arrays(lrs, losses)
    grads = (losses[1:] - losses[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
    i = int(grads.argmin())
    return Suggestion(float(lrs[i]), float(lrs[i]), float(losses[i]))


METHODS: dict[str, Callable[..., Suggestion]] = {"valley": valley, "slide": slide, "minimum": minimum, "steep": steep}
MIN_POINTS = {"valley": 1, "slide": 16, "minimum": 1, "steep": 2}


def usable_curve(lrs: Sequence[float], losses: Sequence[float], num_it: int,
                 run_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The part of the curve fastai suggests from: drop the first ``num_it // 10`` and the last 5
    points of the run, and everything from the first NaN on.

    ``run_length`` is how many points fastai's run would have recorded, when that differs from
    ``len(losses)``: after a NaN, fastai carries on to ``num_it`` before it trims the last 5.
    """
    lrs, losses = _arrays(lrs, losses)
    end = (len(losses) if run_length is None else run_length) - 5
    lrs, losses = lrs[num_it // 10:max(end, 0)], losses[num_it // 10:max(end, 0)]
    nan = np.flatnonzero(np.isnan(losses))
    if len(nan):
        lrs, losses = lrs[:nan[0]], losses[:nan[0]]
    return lrs, losses


def _why_short(recorded: int, num_it: int, stop_reason: str | None) -> str:
    if stop_reason == "diverged":
        return ("The test stopped early because the loss diverged: lower start_lr or end_lr, raise num_it, "
                "or pass stop_div=False.")
    if stop_reason == "nan":
        return "The loss became NaN early in the test: lower end_lr or raise num_it."
    if recorded >= num_it:
        return f"num_it={num_it} is too small for this suggestion: raise num_it (100 is fastai's default)."
    return "The test stopped early: raise num_it or lower end_lr."


def suggest(lrs: Sequence[float], losses: Sequence[float], num_it: int, method: Method = "valley", *,
            run_length: int | None = None, stop_reason: str | None = None) -> Suggestion:
    """A suggestion from a full recorded curve, with a clear error when the curve is too short."""
    if method not in METHODS:
        raise ValueError(f"Unknown suggestion method {method!r}; expected one of {list(METHODS)}.")
    if len(lrs) != len(losses):
        raise ValueError(f"Expected as many LRs as losses, got {len(lrs)} LRs and {len(losses)} losses.")
    ulrs, ulosses = usable_curve(lrs, losses, num_it, run_length)
    if len(ulosses) < MIN_POINTS[method]:
        raise CurveTooShortError(
            f"'{method}' needs at least {MIN_POINTS[method]} usable points, but the range test recorded "
            f"{len(losses)} of num_it={num_it} and {len(ulosses)} remain after dropping the first "
            f"{num_it // 10}, the last 5 and any NaN. " + _why_short(len(losses), num_it, stop_reason)
        )
    return METHODS[method](ulrs, ulosses, num_it)


def valley_at_edge(lrs: Sequence[float], losses: Sequence[float], num_it: int,
                   run_length: int | None = None) -> str | None:
    """A note for the learner when ``valley`` found no falling stretch at all and fell back to the
    first LR of the usable curve."""
    _, ulosses = usable_curve(lrs, losses, num_it, run_length)
    if len(ulosses) >= 2 and bool(np.all(np.diff(ulosses) >= 0)):
        return ("'valley' found no stretch of falling loss and fell back to the first LR of the curve: "
                "the loss only rose, so start the test at a lower start_lr.")
    return None
