"""Plots of a batch-size sweep: curves overlaid, the LR against the batch size, the noise of the curve.
Each takes ``ax=None``, draws, and returns the Axes."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from lrkit.methods.range_test import FinderResult
from lrkit.show.axes import ax_or_new

__all__ = ["plot_batch_overlay", "plot_lr_vs_batch", "plot_noise_vs_batch"]


def _batch_colors(batch_sizes):
    # dark (small batches) to light (large), with a hue that keeps neighbours apart at the light end,
    # where viridis's greens ran together
    cmap = plt.get_cmap("plasma")
    logs = np.log2(np.asarray(sorted(batch_sizes), float))
    span = max(logs.max() - logs.min(), 1)
    return {b: cmap(0.85 * (l - logs.min()) / span) for b, l in zip(sorted(batch_sizes), logs)}


def plot_batch_overlay(curves: dict[int, FinderResult], ax: Axes | None = None, *, skip_end: int = 3,
                       mark=None) -> Axes:
    """Range-test curves for several batch sizes on one plot, coloured from small (dark) to large.
    ``mark(result)`` gives an LR to mark on each curve (e.g. where it diverges)."""
    ax = ax_or_new(ax)
    colors = _batch_colors(curves)
    lows, highs, marked = [], [], []
    for bs in sorted(curves, reverse=True):
        r = curves[bs]
        lr = mark(r) if mark else None
        i = int(np.argmin(np.abs(np.log(np.asarray(r.lrs)) - np.log(lr)))) if lr is not None else None
        end = max(len(r.lrs) - skip_end, (i or 0) + 1)  # never hide the marked point
        ax.plot(r.lrs[:end], r.losses[:end], color=colors[bs], label=f"batch size {bs}")
        finite = [l for l in r.losses[: len(r.lrs) - skip_end] if np.isfinite(l)]
        if finite:
            lows.append(min(finite))
            highs.append(finite[0])
        if i is not None:
            ax.plot(r.lrs[i], r.losses[i], "o", color=colors[bs], ms=6)
            marked.append(r.losses[i])
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="smoothed loss")
    if lows:
        lo, hi = min(lows), max(highs)
        top = hi + 1.5 * (hi - lo + 1e-3)
        finite_marks = [m for m in marked if np.isfinite(m)]
        ax.set_ylim(lo - 0.1 * (hi - lo + 1e-3), max([top, *(1.08 * m for m in finite_marks)]))
    ax.legend(loc="upper left")
    return ax


def plot_lr_vs_batch(per_seed: dict[int, Sequence[float]], ax: Axes | None = None, *, b_noise: float | None = None,
                     ylabel: str = "chosen learning rate") -> Axes:
    """Chosen LR against batch size on log-log axes: every seed, the median, and the linear
    (LR ~ B) and square-root (LR ~ sqrt(B)) rules fitted to the medians; with ``b_noise``, the
    noise-scale prediction LR_max / (1 + B_noise / B)."""
    from lrkit.methods.noise_scale import (bend_found, fit_noise_scale_curve, fit_noise_scale_lr, fit_power_law,
                                           noise_scale_lr)

    ax = ax_or_new(ax)
    bs = np.asarray(sorted(per_seed), float)
    med = np.asarray([np.median(per_seed[int(b)]) for b in bs])
    for b in bs:
        ax.plot([b] * len(per_seed[int(b)]), per_seed[int(b)], ".", color="0.6")
    ax.plot(bs, med, "o", color="k", ms=8, label="median over seeds")
    grid = np.geomspace(bs.min() / 1.3, bs.max() * 1.3, 50)
    for exponent, name, style in ((1.0, "linear: LR ~ B", "-"), (0.5, "square root: LR ~ sqrt(B)", "--")):
        c, _ = fit_power_law(bs, med, exponent)
        ax.plot(grid, c * grid ** exponent, style, label=name)
    c, p = fit_power_law(bs, med)
    if b_noise is not None:
        lr_max = fit_noise_scale_lr(bs, med, b_noise)
        ax.plot(grid, noise_scale_lr(grid, lr_max, b_noise), ":", color="tab:red", lw=2,
                label=f"measured noise scale: LR_max/(1 + {b_noise:.0f}/B)")
        lr_max_fit, b_fit = fit_noise_scale_curve(bs, med)
        if bend_found(bs, b_fit):  # at a bound the fitted shape is the linear rule's line: not drawn twice
            ax.plot(grid, noise_scale_lr(grid, lr_max_fit, b_fit), "-.", color="tab:purple",
                    label=f"same shape, fitted: LR_max/(1 + {b_fit:.0f}/B)")
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel=ylabel,
           title=f"fitted slope on log-log axes: {p:.2f}")
    ax.set_xticks(bs, [str(int(b)) for b in bs])
    ax.minorticks_off()
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_noise_vs_batch(noise: dict[int, float], ax: Axes | None = None) -> Axes:
    """How noisy each curve is against batch size, with the 1/sqrt(B) of averaging B examples."""
    ax = ax_or_new(ax)
    bs = np.asarray(sorted(noise), float)
    vals = np.asarray([noise[int(b)] for b in bs])
    ax.plot(bs, vals, "o-", label="noise of the loss curve (median over seeds)")
    ref = vals[0] * np.sqrt(bs[0] / bs)
    ax.plot(bs, ref, "--", color="0.5", label="1/sqrt(B), from the smallest batch")
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="step-to-step noise of the raw loss")
    ax.set_xticks(bs, [str(int(b)) for b in bs])
    ax.minorticks_off()
    ax.legend(loc="lower left")
    return ax
