"""Plots of Smith's recipe (lesson 10): accuracy on the way to a target for a constant LR and for 1cycle
runs of several budgets, a knob's validation loss read early and at the end, early against final.
Each takes ``ax=None``, draws, and returns the Axes."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from lrkit.runs.recipe import valid_losses_at
from lrkit.runs.training import FitResult
from lrkit.show.axes import ax_or_new, check_colors, legend_outside

__all__ = ["plot_to_target", "plot_valid_loss_vs_knob", "plot_early_vs_final", "plot_grid_early_vs_final",
           "KNOB_MARKERS"]

KNOB_MARKERS = ("o", "s", "^", "D", "v", "P")  # one per value of a knob: shapes, where labels would overlap


def plot_to_target(by_lr: Mapping[float, Sequence[FitResult]], cycles: Mapping[int, Sequence[FitResult]],
                   target: float, ax: Axes | None = None, *, name: str = "constant") -> Axes:
    """Accuracy per epoch of runs of a schedule read epoch by epoch (``by_lr[lr]``: a constant LR, or a
    step schedule named ``name``; one run per seed: the median drawn, in
    greys from the lowest LR, light, to the highest, dark) beside 1cycle runs of several budgets
    (``cycles[epochs]``: each budget's final accuracy, seeds as dots, the median as a red star; stars are
    not joined, each is a run of its own), and the ``target`` both are read against. A 1cycle run's
    accuracy before its last epoch is not drawn: it is not what a run of that budget ends with."""
    ax = ax_or_new(ax)
    lrs = sorted(by_lr)
    for i, lr in enumerate(lrs):
        med = np.median([r.accuracy for r in by_lr[lr]], axis=0)
        grey = str(round(0.7 - 0.55 * i / max(1, len(lrs) - 1), 2))
        ax.plot(np.arange(1, len(med) + 1), med, "o-", ms=3, color=grey, label=f"{name} {lr:.1e}")
    budgets = sorted(cycles)
    finals = [[r.final_accuracy for r in cycles[b]] for b in budgets]
    for b, values in zip(budgets, finals):
        ax.plot([b] * len(values), values, "o", color="tab:red", alpha=0.35, ms=4)
    ax.plot(budgets, [float(np.median(v)) for v in finals], "*", color="tab:red", ms=14,
            label="1cycle, a run per budget")
    ax.axhline(target, color="0.3", ls="--", lw=1, label="target")
    ax.set(xlabel="epoch", ylabel="accuracy")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="lower right", fontsize="small", title="medians (dots: 1cycle's seeds)", title_fontsize="small")
    return ax


def plot_valid_loss_vs_knob(settings: Mapping[str, Mapping[float, Sequence[FitResult]]], epoch: int | None = None,
                            ax: Axes | None = None, *, xlabel: str = "weight decay",
                            colors: Sequence[str] | None = None, legend: bool = True) -> Axes:
    """Per setting (``settings[label][value]``: one run per seed), the validation loss against the knob's
    value after ``epoch`` epochs (at the end when None): the median as a line, seeds as dots, the lowest
    median ringed. ``colors`` keep a setting's colour across panels."""
    ax = ax_or_new(ax)
    check_colors(colors, len(settings), "setting")
    for i, (label, runs) in enumerate(settings.items()):
        color = f"C{i}" if colors is None else colors[i]
        losses = valid_losses_at(runs, epoch)
        values = sorted(losses)
        shift = 1 + 0.05 * (i - (len(settings) - 1) / 2)  # side by side, so one value's seeds do not overlap
        for v in values:
            ax.plot([v * shift] * len(losses[v]), losses[v], "o", color=color, alpha=0.3, ms=3)
        med = [float(np.median(losses[v])) for v in values]
        ax.plot(values, med, "-", color=color, lw=2, label=label)
        best = int(np.nanargmin(med))  # ringed where its seeds are drawn, so equal rings do not hide each other
        ax.plot(values[best] * shift, med[best], "o", ms=13, mfc="none", mec=color, mew=2)
    ax.set(xscale="log", xlabel=f"{xlabel} (log scale)",
           ylabel="validation loss " + ("at the end" if epoch is None else f"after epoch {epoch}"))
    tried = sorted({v for runs in settings.values() for v in runs})
    ax.set_xticks(tried, [f"{v:g}" for v in tried])
    ax.minorticks_off()
    if legend:
        ax.legend(title="median (dots: seeds; ring: lowest)", fontsize="small", title_fontsize="small")
    return ax


def plot_early_vs_final(runs: Mapping, epoch: int, ax: Axes | None = None, *, final: str = "valid_loss",
                        color: str = "tab:blue", label: str | None = None, highlight=None,
                        annotate: bool = False, markers: Sequence[str] | None = None, legend: bool = True) -> Axes:
    """Each condition's validation loss after ``epoch`` epochs against its ``final`` validation loss (or
    ``final="accuracy"``), medians over seeds: if the early loss is the clue the recipe says it is, the
    points rise from left to right (fall, for accuracy).
    Call it once per group of conditions, each with its ``color`` and legend ``label``; ``highlight``
    draws one condition in red; ``annotate`` names every point (for a few conditions); ``markers``
    gives each condition, in order, its own shape; ``legend=False`` leaves the legend to the caller."""
    if final not in ("valid_loss", "accuracy"):
        raise ValueError(f"Expected final='valid_loss' or 'accuracy', got {final!r}")
    if markers is not None and len(markers) < len(runs):
        raise ValueError(f"Expected a marker for each of the {len(runs)} conditions, got {len(markers)}")
    ax = ax_or_new(ax)
    labelled = False  # the group's label goes on its first point that is not the highlighted one
    for i, (name, results) in enumerate(runs.items()):
        early = float(np.median([r.valid_loss[epoch - 1] for r in results]))
        end = float(np.median([r.final_accuracy if final == "accuracy" else r.valid_loss[-1] for r in results]))
        chosen = name == highlight
        entry = "your choice" if chosen else None if labelled else label
        labelled = labelled or not chosen
        ax.plot(early, end, "o" if markers is None else markers[i], ms=9 if chosen else 6,
                color="tab:red" if chosen else color, alpha=1 if chosen else 0.7, label=entry,
                zorder=3 if chosen else 2)
        if annotate:  # above and below in turn: neighbours on the grid often land close together
            ax.annotate(f"{name:g}" if isinstance(name, float) else str(name), (early, end),
                        xytext=(5, 4 if i % 2 == 0 else -10), textcoords="offset points", fontsize=7, color=color)
    ax.set(xlabel=f"validation loss after epoch {epoch} (median)",
           ylabel="final accuracy (median)" if final == "accuracy" else "final validation loss (median)")
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    return ax


def plot_grid_early_vs_final(grid: Mapping[str, Mapping[float, Sequence[FitResult]]], epoch: int,
                             ax: Axes | None = None, *, final: str = "valid_loss", colors: Sequence[str] | None = None,
                             knob: str = "wd", highlight: tuple[str, float] | None = None) -> Axes:
    """Every cell of a grid, ``grid[setting][value]`` one run per seed, early against final as in
    :func:`plot_early_vs_final`: a colour per setting (``colors``, by default ``C0``, ``C1``, ...), a shape
    per value of the ``knob`` (the same value, the same shape, in every setting), both in one legend
    beside the axes; ``highlight=(setting, value)`` draws that cell in red."""
    from matplotlib.lines import Line2D

    check_colors(colors, len(grid), "setting")
    values = sorted({v for by_value in grid.values() for v in by_value})
    if len(values) > len(KNOB_MARKERS):
        raise ValueError(f"Expected at most {len(KNOB_MARKERS)} values of {knob}, got {len(values)}")
    shape = dict(zip(values, KNOB_MARKERS))
    ax = ax_or_new(ax)
    for i, (setting, by_value) in enumerate(grid.items()):
        chosen = highlight[1] if highlight is not None and highlight[0] == setting else None
        plot_early_vs_final(by_value, epoch, ax, final=final, color=f"C{i}" if colors is None else colors[i],
                            label=setting, highlight=chosen, markers=[shape[v] for v in by_value], legend=False)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], ls="", marker=shape[v], color="0.45", label=f"{knob} {v:g}") for v in values]
    legend_outside(ax, handles=handles, fontsize="small")
    return ax
