"""Plots of one range test and of its spread over seeds. Each takes ``ax=None``, draws, and returns the Axes."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from matplotlib.axes import Axes

from lrkit.methods.range_test import FinderResult
from lrkit.runs.seeds import SeedSpread
from lrkit.show.axes import SUGGESTION_COLORS, ax_or_new

__all__ = ["plot_lr_schedule", "plot_lr_find", "plot_seed_spread"]


def plot_lr_schedule(result: FinderResult, ax: Axes | None = None) -> Axes:
    """The LR at each iteration of the range test (log scale: a straight line)."""
    ax = ax_or_new(ax)
    ax.plot(np.arange(len(result.lrs)), result.lrs)
    ax.set(yscale="log", xlabel="iteration", ylabel="learning rate",
           title=f"LR grows from {result.settings.start_lr:g} to {result.settings.end_lr:g}")
    if result.stop_reason != "num_it":
        ax.axvline(len(result.lrs) - 1, color="tab:red", ls=":", label=f"stopped: {result.stop_reason}")
        ax.legend()
    return ax


def plot_lr_find(result: FinderResult, ax: Axes | None = None, *, methods: Iterable[str] | None = None,
                 skip_end: int = 5, show_raw: bool = False, label: str | None = None, color=None,
                 ls: str = "-") -> Axes:
    """Smoothed loss against LR (log x), with the suggestions marked, as fastai's ``plot_lr_find``;
    ``ls`` is the curve's line style (an overlay of two curves that coincide: one dashed)."""
    ax = ax_or_new(ax)
    previous_ylim = ax.get_ylim() if ax.get_lines() else None  # overlaying: keep earlier curves in view
    end = len(result.lrs) - skip_end if skip_end else len(result.lrs)
    lrs = result.lrs[:end]
    if show_raw:
        ax.plot(lrs, result.raw_losses[:end], color="0.75", lw=0.8, label="raw loss")
    ax.plot(lrs, result.losses[:end], color=color, ls=ls, label=label if label is not None else "smoothed loss")
    for m in (result.suggestions if methods is None else methods):
        if result.suggestions.get(m) is None:
            continue
        mark_lr, mark_loss = result.marks[m]
        # on an overlay each curve's marks take the curve's colour, ringed in the method's
        ax.plot(mark_lr, mark_loss, "o", color=color or SUGGESTION_COLORS.get(m), ms=7,
                markeredgecolor=SUGGESTION_COLORS.get(m), markeredgewidth=2,
                label=_mark_label(m, result.suggestions[m], mark_lr))
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="loss")
    _limit_y(ax, result.losses[:end])
    if previous_ylim is not None:
        lo, hi = ax.get_ylim()
        ax.set_ylim(min(lo, previous_ylim[0]), max(hi, previous_ylim[1]))
    ax.legend(loc="lower left")
    return ax


def _limit_y(ax: Axes, losses: Sequence[float], floor: float | None = None) -> None:
    """Keep the interesting part in view when the loss explodes at the end (down to ``floor`` when
    given: the lowest of several curves drawn around ``losses``)."""
    finite = np.asarray([l for l in losses if np.isfinite(l)])
    if len(finite):
        lo, start = finite.min(), finite[: max(1, len(finite) // 10)].mean()
        lo = lo if floor is None or not np.isfinite(floor) else min(lo, floor)
        ax.set_ylim(lo - 0.1 * (start - lo + 1e-3), max(start, lo) + 0.6 * (start - lo + 1e-3))


def _mark_label(method: str, lr: float, mark_lr: float) -> str:
    """The suggestion, and where the dot is when it is not at the suggested LR (``minimum``: a tenth of it)."""
    same = abs(mark_lr / lr - 1) < 1e-6
    return f"{method}: {lr:.2e}" if same else f"{method}: {lr:.2e} (dot: lowest loss, at {mark_lr:.2e})"


def plot_seed_spread(spread: SeedSpread, ax: Axes | None = None, *, method: str | Iterable[str] = "valley",
                     skip_end: int = 5, show_raw: bool = False) -> Axes:
    """Each seed's curve faintly, the median and the 25-75% band, and every seed's suggestion
    for each of ``method`` (one name or several)."""
    ax = ax_or_new(ax)
    for r in spread.results:
        if show_raw:
            ax.plot(r.lrs[:-skip_end or None], r.raw_losses[:-skip_end or None], color="0.85", lw=0.6)
        ax.plot(r.lrs[:-skip_end or None], r.losses[:-skip_end or None], color="0.7", lw=0.8)
    end = len(spread.lrs) - skip_end
    lrs = np.asarray(spread.lrs[:end])
    ax.fill_between(lrs, spread.low[:end], spread.high[:end], color="tab:blue", alpha=0.25, label="25-75% of seeds")
    ax.plot(lrs, spread.median[:end], color="tab:blue", lw=2, label=f"median of {len(spread.results)} seeds")
    for m in ([method] if isinstance(method, str) else list(method)):
        for i, v in enumerate(spread.suggestions(m)):
            ax.axvline(v, color=SUGGESTION_COLORS.get(m, "k"), lw=1, alpha=0.7, label=f"{m} per seed" if i == 0 else None)
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="smoothed loss")
    lowest = min((l for r in spread.results for l in r.losses[:-skip_end or None] if np.isfinite(l)), default=None)
    _limit_y(ax, spread.median[:end], floor=lowest)  # every seed's curve stays in view
    ax.legend(loc="lower left")
    return ax
