"""Plots of curvature: gradient descent on a quadratic, the sharpness of a network as it trains.
Each takes ``ax=None``, draws, and returns the Axes."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.axes import Axes

from lrkit.show.axes import ax_or_new

__all__ = ["plot_quadratic_path", "plot_quadratic_loss", "update_quadratic_plots", "plot_sharpness_runs", "plot_loss_runs", "plot_sharpness_during_test"]


def _quadratic_scene(path) -> dict:
    """What the playground's two axes show for one path, for a first draw or an update in place."""
    lam = np.asarray(path.eigenvalues)
    pts = np.asarray(path.points)
    r = 1.3 * float(np.abs(pts[0]).max())
    # the level sets 0.5 * (l1 x^2 + l2 y^2) = c are ellipses: drawn as lines, far cheaper than contour()
    t = np.linspace(0, 2 * np.pi, 100)
    ellipses = [(np.sqrt(2 * c / lam[0]) * np.cos(t), np.sqrt(2 * c / lam[1]) * np.sin(t))
                for c in 0.5 * lam.max() * r**2 * np.linspace(0.05, 1.0, 10) ** 2]
    shown = pts[np.all(np.abs(pts) < 10 * r, axis=1)] if path.diverged else pts
    losses = np.asarray(path.losses)
    return dict(ellipses=ellipses, path=(shown[:, 0], shown[:, 1]), start=pts[0], r=r,
                color="tab:red" if path.diverged else "tab:blue",
                xlabel=f"x1 (curvature {lam[0]:g})", ylabel=f"x2 (curvature {lam[1]:g})",
                title=f"lr = {path.lr:.3g} = {path.lr / path.threshold:.2f} x limit 2(1+beta)/lambda_max"
                      + ("  DIVERGES" if path.diverged else ""),
                steps=np.arange(len(losses)), losses=np.where(np.isfinite(losses), losses, np.nan),
                loss_lim=(losses[0] * 1e-8, losses[0] * 1e8))


def plot_quadratic_path(path, ax: Axes | None = None) -> Axes:
    """Gradient descent on a 2-D quadratic: contours of the loss and the path taken. The view stays
    at the start's scale, so a diverging path runs off it."""
    ax = ax_or_new(ax)
    scene = _quadratic_scene(path)
    for x, y in scene["ellipses"]:
        ax.plot(x, y, color="0.85", lw=0.8)
    ax.plot(*scene["path"], "-o", ms=3, color=scene["color"])
    ax.plot(*scene["start"], "ks", ms=6)
    r = scene["r"]
    ax.set(xlim=(-r, r), ylim=(-r, r), aspect="equal", xlabel=scene["xlabel"], ylabel=scene["ylabel"])
    ax.set_title(scene["title"], y=1.0)  # a fixed place: matplotlib need not measure tick labels to place it
    return ax


def plot_quadratic_loss(path, ax: Axes | None = None) -> Axes:
    """The loss of a :func:`lrkit.methods.curvature.gd_on_quadratic` path, step by step (log scale)."""
    from matplotlib.ticker import LogFormatter, LogLocator, NullLocator

    ax = ax_or_new(ax)
    scene = _quadratic_scene(path)
    ax.plot(scene["steps"], scene["losses"], color=scene["color"])
    # 16 decades around the start: where the story is, and few ticks to lay out (fast redraws)
    ax.set(yscale="log", xlabel="step", ylabel="loss", ylim=scene["loss_lim"],
           xlim=(0, max(1, len(scene["steps"]) - 1)))
    ax.set_title("loss", y=1.0)
    ax.yaxis.set_major_locator(LogLocator(numticks=6))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=True))  # "1e-08": plain text, no mathtext to lay out
    return ax


def update_quadratic_plots(path, ax_path: Axes, ax_loss: Axes) -> None:
    """Move the lines that :func:`plot_quadratic_path` and :func:`plot_quadratic_loss` drew to show
    ``path`` instead: no new axes, ticks or lines, so a slider redraws faster."""
    scene = _quadratic_scene(path)
    *ellipses, line, start = ax_path.lines
    for artist, (x, y) in zip(ellipses, scene["ellipses"]):
        artist.set_data(x, y)
    line.set_data(*scene["path"])
    line.set_color(scene["color"])
    start.set_data([scene["start"][0]], [scene["start"][1]])
    r = scene["r"]
    ax_path.set(xlim=(-r, r), ylim=(-r, r), xlabel=scene["xlabel"], ylabel=scene["ylabel"])
    ax_path.set_title(scene["title"], y=1.0)
    loss_line, = ax_loss.lines
    loss_line.set_data(scene["steps"], scene["losses"])
    loss_line.set_color(scene["color"])
    ax_loss.set(xlim=(0, max(1, len(scene["steps"]) - 1)), ylim=scene["loss_lim"])


def plot_sharpness_runs(runs: Sequence, ax: Axes | None = None) -> Axes:
    """Sharpness during full-batch gradient descent, one line per LR, each with its edge 2/lr dashed."""
    ax = ax_or_new(ax)
    for i, run in enumerate(runs):
        color = f"C{i}"
        ax.plot(run.steps, run.sharpness, "-o", ms=3, color=color, label=f"lr {run.lr:g}")
        ax.axhline(run.edge, color=color, ls="--", lw=1)
    ax.set(xlabel="step", ylabel="sharpness (top Hessian eigenvalue)",
           title="sharpness against its edge 2/lr (dashed)")
    ax.legend()
    return ax


def plot_loss_runs(runs: Sequence, ax: Axes | None = None) -> Axes:
    """Training loss of full-batch gradient descent, one line per LR."""
    ax = ax_or_new(ax)
    for i, run in enumerate(runs):
        ax.plot(np.arange(len(run.loss)), run.loss, color=f"C{i}", lw=1, label=f"lr {run.lr:g}")
    ax.set(yscale="log", xlabel="step", ylabel="training loss", title="training loss, step by step")
    ax.legend()
    return ax


def plot_sharpness_during_test(lrs: Sequence[float], sharpness: Sequence[float], momentum: float = 0.0, *,
                               takeoff: float | None = None, ax: Axes | None = None, label: str = "") -> Axes:
    """Sharpness measured while the range test trains, against the LR of that moment, with the
    stability limit: above the line 2(1+beta)/lr the step is too large for the curvature."""
    ax = ax_or_new(ax)
    lrs = np.asarray(lrs)
    line = ax.plot(lrs, sharpness, "-o", ms=3, label=label or f"momentum {momentum:g}")[0]
    grid = np.logspace(np.log10(lrs.min()), np.log10(lrs.max()), 50)
    ax.plot(grid, 2 * (1 + momentum) / grid, ls="--", color=line.get_color(), lw=1,
            label=f"limit 2(1+{momentum:g})/lr")
    if takeoff is not None:
        ax.axvline(takeoff, color=line.get_color(), ls=":", lw=1)
    top = 3 * max(sharpness)
    ax.set(xscale="log", yscale="log", ylim=(0.5 * min(sharpness), top), xlabel="learning rate of the range test",
           ylabel="sharpness", title="sharpness while the range test trains (dotted: where the loss takes off)")
    ax.legend(fontsize="small")
    return ax
