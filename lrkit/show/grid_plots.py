"""Plots of the ground-truth grid: the best LR and the steps to a target against the batch size,
with a band over seeds, and the range test's readings drawn over the best-LR band."""
from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import NullLocator

from lrkit.show.axes import SUGGESTION_COLORS, ax_or_new

__all__ = ["plot_best_lr_vs_batch", "plot_steps_vs_batch", "plot_readings_vs_best", "seed_band", "OPTIMIZER_COLORS"]

Best = Mapping[int, Mapping[int, "tuple[float, int] | None"]]  # batch size -> seed -> (best LR, steps) or None
# one colour per optimizer, none of the suggestions' (drawn beside them)
OPTIMIZER_COLORS = {"sgd": "tab:blue", "adam": "tab:pink", "plain_sgd": "tab:cyan"}
# the suggestions in the colours every range-test plot gives them; the take-off LR in brown
READING_COLORS = {**SUGGESTION_COLORS, "take-off LR (loss x2)": "tab:brown"}


def seed_band(best: Best, which: int) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """Batch sizes where some seed reached the target, and the median, lowest and highest over those
    seeds of the best LR (``which=0``) or the steps it took (``which=1``)."""
    sizes, med, lo, hi = [], [], [], []
    for bs in sorted(best):
        vals = [v[which] for v in best[bs].values() if v is not None]
        if vals:
            sizes.append(bs)
            med.append(np.median(vals))
            lo.append(min(vals))
            hi.append(max(vals))
    return sizes, np.array(med, float), np.array(lo, float), np.array(hi, float)


def plot_best_lr_vs_batch(best: Best, ax: Axes | None = None, *, label: str = "", color: str = "tab:blue",
                          rules: bool = True, lr_range: tuple[float, float] | None = None) -> Axes:
    """The best LR at each batch size (median over seeds, band from lowest to highest seed), log-log,
    with the linear and square-root rules drawn from the smallest batch size's median; ``lr_range``
    draws the grid's lowest and highest LR (a best LR on one of them may lie beyond it)."""
    ax = ax_or_new(ax)
    if lr_range is not None:
        for lr in lr_range:
            ax.axhline(lr, color="0.5", lw=0.8, ls="-.")
        ax.plot([], [], color="0.5", lw=0.8, ls="-.", label="the grid's lowest and highest LR")
    sizes, med, lo, hi = seed_band(best, 0)
    if sizes:
        ax.fill_between(sizes, lo, hi, color=color, alpha=0.2, lw=0)
        ax.plot(sizes, med, "o-", color=color, label=f"{label} best LR (median, band: seeds)")
        if rules and len(sizes) > 1:
            b = np.array(sizes, float)
            ax.plot(b, med[0] * b / b[0], "--", color=color, lw=1, alpha=0.7, label=f"{label} linear rule")
            ax.plot(b, med[0] * np.sqrt(b / b[0]), ":", color=color, lw=1.2, alpha=0.9,
                    label=f"{label} square-root rule")
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="best LR (fewest steps to the target)")
    ax.set_xticks(sorted(best), [str(b) for b in sorted(best)])
    ax.xaxis.set_minor_locator(NullLocator())  # the batch sizes label the x axis; log minor ticks would clutter it
    return ax


def plot_steps_vs_batch(best: Best, ax: Axes | None = None, *, examples: bool = False, label: str = "",
                        color: str = "tab:blue", front: tuple[float, float] | None = None, marker: str = "o") -> Axes:
    """The fewest steps (or examples, ``steps x batch size``) to the target at each batch size, median
    and band over seeds, log-log; ``front=(S_min, B_crit)`` draws McCandlish et al.'s
    ``S = S_min (1 + B_crit / B)`` (``E = S_min B_crit (1 + B / B_crit)``) and marks ``B_crit``."""
    ax = ax_or_new(ax)
    sizes, med, lo, hi = seed_band(best, 1)
    scale = np.array(sizes, float) if examples else 1.0
    if sizes:
        ax.fill_between(sizes, lo * scale, hi * scale, color=color, alpha=0.12, lw=0)
        ax.plot(sizes, med * scale, "-", marker=marker, mfc="none", ms=8, color=color,
                label=f"{label} (median, band: seeds)")
    if front is not None and sizes:
        s_min, b_crit = front
        b = np.geomspace(min(sizes), max(sizes), 50)
        s = s_min * (1 + b_crit / b)
        ax.plot(b, s * b if examples else s, "--", color=color, lw=1, label=f"{label} fitted front")
        ax.axvline(b_crit, color=color, lw=0.8, ls=":", label=f"{label} critical batch size")
    ax.set(xscale="log", yscale="log", xlabel="batch size",
           ylabel=("examples" if examples else "steps") + " to the target (best LR)")
    ax.set_xticks(sorted(best), [str(b) for b in sorted(best)])
    ax.xaxis.set_minor_locator(NullLocator())  # the batch sizes label the x axis; log minor ticks would clutter it
    return ax


def plot_readings_vs_best(best: Best, readings: Mapping[str, Mapping[int, float]], ax: Axes | None = None, *,
                          title: str = "") -> Axes:
    """The best-LR band (grey) and each range-test reading's median over seeds at each batch size."""
    ax = ax_or_new(ax)
    sizes, med, lo, hi = seed_band(best, 0)
    if sizes:
        ax.fill_between(sizes, lo, hi, color="0.6", alpha=0.35, lw=0, label="best LR, band over seeds")
        ax.plot(sizes, med, "-", color="0.3", lw=2, label="best LR, median")
    for name, per_bs in readings.items():
        bs = sorted(per_bs)
        ax.plot(bs, [per_bs[b] for b in bs], "o-", lw=1, ms=5, color=READING_COLORS.get(name, "black"), label=name)
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="learning rate", title=title)
    ax.set_xticks(sorted(best), [str(b) for b in sorted(best)])
    ax.xaxis.set_minor_locator(NullLocator())  # the batch sizes label the x axis; log minor ticks would clutter it
    return ax
