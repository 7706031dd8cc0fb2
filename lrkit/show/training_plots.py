"""Plots of training runs: metrics per epoch, schedules, the LR of each layer group, step sizes.
Each takes ``ax=None``, draws, and returns the Axes."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from lrkit.runs.training import FitResult
from lrkit.show.axes import ax_or_new, check_colors, legend_outside as _legend_outside

__all__ = ["plot_fit_histories", "plot_schedule", "plot_lr_per_epoch", "plot_group_lrs", "plot_group_schedules",
           "plot_effective_lrs", "plot_branch_lrs", "plot_final_vs_lr", "plot_group_drift"]


def plot_fit_histories(results: Sequence[FitResult], metric: str = "accuracy", ax: Axes | None = None, *,
                       chance: float | None = None, colors: Sequence[str] | None = None,
                       legend_outside: bool = False) -> Axes:
    """One line per run of ``metric`` ('accuracy', 'valid_loss' or 'train_loss') per epoch; ``colors``
    (one per run) keep a condition's colour across panels; ``legend_outside`` puts the legend right
    of the axes, off the data."""
    check_colors(colors, len(results), "run")
    if metric not in ("accuracy", "valid_loss", "train_loss"):
        raise ValueError(f"Expected metric 'accuracy', 'valid_loss' or 'train_loss', got {metric!r}")
    ax = ax_or_new(ax)
    for i, r in enumerate(results):
        values = np.asarray(getattr(r, metric), dtype=float)
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, "o-", label=r.label + (" (diverged)" if r.diverged else ""),
                color=None if colors is None else colors[i])
    if chance is not None and metric == "accuracy":
        ax.axhline(chance, color="0.4", ls="--", lw=1, label="chance")
    if metric != "accuracy":
        finite = [v for r in results for v in getattr(r, metric) if np.isfinite(v)]
        if finite and max(finite) > 20 * min(finite):
            ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel=metric.replace("_", " "))
    ax.xaxis.get_major_locator().set_params(integer=True)
    if ax.get_legend_handles_labels()[0]:
        if legend_outside:
            _legend_outside(ax)
        else:
            ax.legend()
    return ax


def plot_schedule(lrs: Sequence[float], moms: Sequence[float] | None = None, ax: Axes | None = None, *,
                  n_iter_per_epoch: int | None = None, label: str = "learning rate") -> Axes:
    """LR across iterations, and momentum on a second axis when given (it moves the other way)."""
    ax = ax_or_new(ax)
    ax.plot(np.arange(len(lrs)), lrs, color="tab:blue", label=label)
    ax.set(xlabel="iteration", ylabel="learning rate")
    ax.yaxis.label.set_color("tab:blue")
    if n_iter_per_epoch:
        for e in range(n_iter_per_epoch, len(lrs), n_iter_per_epoch):
            ax.axvline(e, color="0.85", lw=0.8, zorder=0)
    if moms is not None and len(moms):
        twin = ax.twinx()
        twin.plot(np.arange(len(moms)), moms, color="tab:red", ls="--", label="momentum")
        twin.set_ylabel("momentum (Adam's beta1)", color="tab:red")
        twin.grid(False)
    return ax


def plot_lr_per_epoch(results: Sequence[FitResult], ax: Axes | None = None) -> Axes:
    """The LR in force at the end of each epoch, one step per epoch (log scale); a drop by a factor of
    two or more after an epoch at a constant LR (a plateau's drop, not an annealing schedule's last
    epochs) is labelled, between the epoch before it and the epoch after."""
    ax = ax_or_new(ax)
    for r in results:
        lrs = r.lr_per_epoch

        def held(e: int) -> bool:  # the LR did not change during epoch e
            within = r.lrs_in_epoch(e)
            return bool(within) and max(within) == min(within)

        line = ax.stairs(lrs, np.arange(0.5, len(lrs) + 1), baseline=None, label=r.label, lw=1.5)
        for e in range(1, len(lrs)):
            if lrs[e] <= lrs[e - 1] / 2 and held(e - 1):
                ax.annotate(f"LR / {lrs[e - 1] / lrs[e]:.0f}", (e + 0.5, lrs[e]), textcoords="offset points",
                            xytext=(4, 8), color=line.get_edgecolor())
    ax.set(yscale="log", xlabel="epoch", ylabel="learning rate")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return ax


def plot_group_lrs(lrs: Sequence[float], names: Sequence[str], ax: Axes | None = None, *,
                   trainable: Sequence[bool] | None = None, label: str | None = None) -> Axes:
    """The LR of each layer group along the network, input on the left, head on the right."""
    ax = ax_or_new(ax)
    x = np.arange(len(lrs))
    colors = ["0.35" if (trainable is None or t) else "0.75" for t in (trainable or [True] * len(lrs))]
    ax.bar(x, lrs, color=colors, label=label)
    for xi, lr in zip(x, lrs):
        ax.annotate(f"{lr:.1e}", (xi, lr), ha="center", va="bottom", textcoords="offset points", xytext=(0, 3))
    ax.set(yscale="log", ylabel="learning rate", xticks=x)
    ax.set_xticklabels([n.replace(" + ", "\n+ ") for n in names])  # long group names on two lines
    ax.set_ylim(min(lrs) / 3, max(lrs) * 4)
    if trainable is not None and not all(trainable):
        ax.set_title("grey: frozen group (only its batch-norm layers train)")
    return ax


def plot_group_drift(grid: Mapping[str, Sequence[FitResult]], names: Sequence[str], ax: Axes | None = None, *,
                     colors: Sequence[str] | None = None) -> Axes:
    """How far each layer group's weights moved in each condition (``FitResult.group_drift``, as a
    fraction of their norm, log scale): a bar at the median over seeds, a dot per seed. Conditions
    with frozen groups show no bar there (they did not move)."""
    ax = ax_or_new(ax)
    labels = list(grid)
    check_colors(colors, len(labels), "condition")
    width = 0.8 / max(1, len(labels))
    for i, label in enumerate(labels):
        drift = np.array([r.group_drift for r in grid[label]], dtype=float)
        if drift.size == 0 or drift.shape[1] != len(names):
            raise ValueError(f"Expected {len(names)} drifts per run of {label!r} (one per layer group), got "
                             f"{drift.shape[1:] or 'none'}: train with lrkit.fit_and_record, which records them")
        x = np.arange(len(names)) + (i - (len(labels) - 1) / 2) * width
        median = np.median(drift, axis=0)
        shown = median > 0  # a frozen group stays at 0, which a log axis cannot draw
        color = None if colors is None else colors[i]
        bars = ax.bar(x[shown], median[shown], width, color=color, alpha=0.6, label=label)
        for j in np.flatnonzero(shown):  # each seed's dot in its bar's colour
            ax.plot(np.full(len(drift), x[j]), drift[:, j], ".", color=bars.patches[0].get_facecolor()[:3], ms=4)
    ax.set(yscale="log", ylabel="weights moved, fraction of their norm", xticks=np.arange(len(names)),
           xlabel="layer group (a frozen group did not move: no bar)")
    ax.set_xticklabels([n.replace(" + ", "\n+ ") for n in names])
    _legend_outside(ax)
    return ax


def plot_group_schedules(per_group: Sequence[Sequence[float]], names: Sequence[str], ax: Axes | None = None) -> Axes:
    """Each layer group's LR across the iterations of a run (log scale)."""
    import matplotlib as mpl

    ax = ax_or_new(ax)
    shades = mpl.colormaps["viridis"](np.linspace(0.15, 0.8, len(per_group)))  # input to head, dark to light
    for lrs, name, color in zip(per_group, names, shades):
        ax.plot(np.arange(len(lrs)), lrs, label=name, color=color)
    ax.set(yscale="log", xlabel="iteration", ylabel="learning rate")
    ax.legend()
    return ax


def plot_effective_lrs(runs: Sequence[FitResult], ax: Axes | None = None, *,
                       suggestions: dict[str, float] | None = None, colors: Sequence[str] | None = None) -> Axes:
    """The step size each run took, iteration by iteration (``d * lr`` for Prodigy and
    D-Adaptation), with the range test's suggestions as horizontal lines; ``colors`` (one per run)
    keep a condition's colour across panels."""
    check_colors(colors, len(runs), "run")
    ax = ax_or_new(ax)
    for i, r in enumerate(runs):
        ax.plot(np.arange(len(r.effective_lrs)), r.effective_lrs, label=r.label,
                color=None if colors is None else colors[i])
    # grey, not the suggestions' own colours, which the runs' colours would repeat
    for (method, lr), style in zip((suggestions or {}).items(), ("--", ":", "-.")):
        if lr is not None:
            ax.axhline(lr, color="0.35", ls=style, lw=1.2, label=f"range test: {method} {lr:.1e}")
    ax.set(yscale="log", xlabel="iteration", ylabel="effective learning rate")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return ax


def plot_branch_lrs(branches: Sequence[FitResult], ax: Axes | None = None, *,
                    colors: Sequence[str] | None = None) -> Axes:
    """The LR of each run at every iteration, e.g. the branches of one warmup-stable-decay run: a shared
    trunk, then each decay. Run i gets ``colors[i]``, by default ``Ci``, as when the runs are passed in the
    same order to :func:`plot_fit_histories`."""
    check_colors(colors, len(branches), "run")
    ax = ax_or_new(ax)
    for i, r in sorted(enumerate(branches), key=lambda ir: -len(ir[1].lrs)):  # the longest under the others
        ax.plot(np.arange(len(r.lrs)), r.lrs, label=r.label, lw=2, color=f"C{i}" if colors is None else colors[i])
    ax.set(xlabel="iteration", ylabel="learning rate")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return ax


def plot_final_vs_lr(sweep: dict[str, dict[float, Sequence[FitResult]]], metric: str = "accuracy",
                     ax: Axes | None = None, *, mark: dict[str, float] | None = None) -> Axes:
    """The final ``metric`` of each condition against the LR it trained at: one dot per seed and the
    median as a line, so the spread over seeds is as visible as the trend. ``sweep[label][lr]`` holds
    the runs of one condition at one LR; ``mark`` draws named LRs as vertical lines."""
    if metric not in ("accuracy", "valid_loss"):
        raise ValueError(f"Expected metric 'accuracy' or 'valid_loss', got {metric!r}")
    ax = ax_or_new(ax)
    for i, (label, by_lr) in enumerate(sweep.items()):
        color = f"C{i}"
        lrs = sorted(by_lr)
        finals = [[getattr(r, metric)[-1] for r in by_lr[lr]] for lr in lrs]
        shift = 1 + 0.04 * (i - (len(sweep) - 1) / 2)  # side by side, so one LR's seeds do not overlap
        for lr, values in zip(lrs, finals):
            ax.plot([lr * shift] * len(values), values, "o", color=color, alpha=0.35, ms=4)
        ax.plot(lrs, [float(np.median(v)) for v in finals], "-", color=color, lw=2,
                label=f"{label} (median, dots: seeds)")
    for name, lr in (mark or {}).items():
        ax.axvline(lr, color="0.5", ls=":", lw=1)
        ax.annotate(name, (lr, 1), xycoords=("data", "axes fraction"), xytext=(3, -12), textcoords="offset points",
                    fontsize=8, color="0.4")
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel=f"final {metric.replace('_', ' ')}")
    tried = sorted({lr for by_lr in sweep.values() for lr in by_lr})
    ax.set_xticks(tried, [f"{lr:.1e}" for lr in tried])  # the LRs run, not a log grid between them
    ax.minorticks_off()
    ax.legend(loc="best")
    return ax
