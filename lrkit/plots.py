"""Plots of range tests and training runs. Each takes ``ax=None``, draws, and returns the Axes."""
from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from .finder import FinderResult
from .multiseed import SeedSpread
from .training import FitResult

__all__ = ["plot_lr_schedule", "plot_lr_find", "plot_seed_spread", "plot_fit_histories", "plot_schedule",
           "plot_lr_per_epoch", "plot_batch_overlay", "plot_lr_vs_batch", "plot_noise_vs_batch", "plot_group_lrs",
           "plot_group_schedules", "plot_quadratic_path", "plot_quadratic_loss", "plot_sharpness_runs",
           "plot_loss_runs", "plot_sharpness_during_test", "plot_effective_lrs", "plot_branch_lrs",
           "update_quadratic_plots",
           "SUGGESTION_COLORS"]

SUGGESTION_COLORS = {"valley": "tab:orange", "slide": "tab:green", "minimum": "tab:red", "steep": "tab:purple"}


def _ax(ax: Axes | None) -> Axes:
    return ax if ax is not None else plt.figure().add_subplot()


def plot_lr_schedule(result: FinderResult, ax: Axes | None = None) -> Axes:
    """The LR at each iteration of the range test (log scale: a straight line)."""
    ax = _ax(ax)
    ax.plot(np.arange(len(result.lrs)), result.lrs)
    ax.set(yscale="log", xlabel="iteration", ylabel="learning rate",
           title=f"LR grows from {result.settings.start_lr:g} to {result.settings.end_lr:g}")
    if result.stop_reason != "num_it":
        ax.axvline(len(result.lrs) - 1, color="tab:red", ls=":", label=f"stopped: {result.stop_reason}")
        ax.legend()
    return ax


def plot_lr_find(result: FinderResult, ax: Axes | None = None, *, methods: Iterable[str] | None = None,
                 skip_end: int = 5, show_raw: bool = False, label: str | None = None, color=None) -> Axes:
    """Smoothed loss against LR (log x), with the suggestions marked, as fastai's ``plot_lr_find``."""
    ax = _ax(ax)
    previous_ylim = ax.get_ylim() if ax.get_lines() else None  # overlaying: keep earlier curves in view
    end = len(result.lrs) - skip_end if skip_end else len(result.lrs)
    lrs = result.lrs[:end]
    if show_raw:
        ax.plot(lrs, result.raw_losses[:end], color="0.75", lw=0.8, label="raw loss")
    ax.plot(lrs, result.losses[:end], color=color, label=label if label is not None else "smoothed loss")
    for m in (result.suggestions if methods is None else methods):
        if result.suggestions.get(m) is None:
            continue
        mark_lr, mark_loss = result.marks[m]
        # on an overlay each curve's marks take the curve's colour, ringed in the method's
        ax.plot(mark_lr, mark_loss, "o", color=color or SUGGESTION_COLORS.get(m), ms=7,
                markeredgecolor=SUGGESTION_COLORS.get(m), markeredgewidth=2,
                label=f"{m}: {result.suggestions[m]:.2e}")
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="loss")
    _limit_y(ax, result.losses[:end])
    if previous_ylim is not None:
        lo, hi = ax.get_ylim()
        ax.set_ylim(min(lo, previous_ylim[0]), max(hi, previous_ylim[1]))
    ax.legend(loc="lower left")
    return ax


def _limit_y(ax: Axes, losses: Sequence[float]) -> None:
    """Keep the interesting part in view when the loss explodes at the end."""
    finite = np.asarray([l for l in losses if np.isfinite(l)])
    if len(finite):
        lo, start = finite.min(), finite[: max(1, len(finite) // 10)].mean()
        ax.set_ylim(lo - 0.1 * (start - lo + 1e-3), max(start, lo) + 0.6 * (start - lo + 1e-3))


def plot_seed_spread(spread: SeedSpread, ax: Axes | None = None, *, method: str | Iterable[str] = "valley",
                     skip_end: int = 5, show_raw: bool = False) -> Axes:
    """Each seed's curve faintly, the median and the 25-75% band, and every seed's suggestion
    for each of ``method`` (one name or several)."""
    ax = _ax(ax)
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
    _limit_y(ax, spread.median[:end])
    ax.legend(loc="lower left")
    return ax


def plot_fit_histories(results: Sequence[FitResult], metric: str = "accuracy", ax: Axes | None = None, *,
                       chance: float | None = None) -> Axes:
    """One line per run of ``metric`` ('accuracy', 'valid_loss' or 'train_loss') per epoch."""
    if metric not in ("accuracy", "valid_loss", "train_loss"):
        raise ValueError(f"Expected metric 'accuracy', 'valid_loss' or 'train_loss', got {metric!r}")
    ax = _ax(ax)
    for r in results:
        values = np.asarray(getattr(r, metric), dtype=float)
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, "o-", label=r.label + (" (diverged)" if r.diverged else ""))
    if chance is not None and metric == "accuracy":
        ax.axhline(chance, color="0.4", ls="--", lw=1, label="chance")
    if metric != "accuracy":
        finite = [v for r in results for v in getattr(r, metric) if np.isfinite(v)]
        if finite and max(finite) > 20 * min(finite):
            ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel=metric.replace("_", " "))
    ax.xaxis.get_major_locator().set_params(integer=True)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return ax


def plot_schedule(lrs: Sequence[float], moms: Sequence[float] | None = None, ax: Axes | None = None, *,
                  n_iter_per_epoch: int | None = None, label: str = "learning rate") -> Axes:
    """LR across iterations, and momentum on a second axis when given (it moves the other way)."""
    ax = _ax(ax)
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
    """The LR in force at the end of each epoch, one line per run (log scale), drops marked."""
    ax = _ax(ax)
    for r in results:
        lrs = r.lr_per_epoch
        epochs = np.arange(1, len(lrs) + 1)
        line, = ax.step(epochs, lrs, where="post", label=r.label)
        for e in range(1, len(lrs)):
            if lrs[e] < lrs[e - 1]:
                ax.annotate(f"LR / {lrs[e - 1] / lrs[e]:.0f}", (epochs[e], lrs[e]), textcoords="offset points",
                            xytext=(4, 8), color=line.get_color())
    ax.set(yscale="log", xlabel="epoch", ylabel="learning rate")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return ax


def _batch_colors(batch_sizes):
    cmap = plt.get_cmap("viridis")
    logs = np.log2(np.asarray(sorted(batch_sizes), float))
    span = max(logs.max() - logs.min(), 1)
    return {b: cmap(0.9 * (l - logs.min()) / span) for b, l in zip(sorted(batch_sizes), logs)}


def plot_batch_overlay(curves: dict[int, FinderResult], ax: Axes | None = None, *, skip_end: int = 3,
                       mark=None) -> Axes:
    """Range-test curves for several batch sizes on one plot, coloured from small (dark) to large.
    ``mark(result)`` gives an LR to mark on each curve (e.g. where it diverges)."""
    ax = _ax(ax)
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
    from .noise_scale import fit_noise_scale_curve, fit_noise_scale_lr, fit_power_law, noise_scale_lr

    ax = _ax(ax)
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
        ax.plot(grid, noise_scale_lr(grid, lr_max_fit, b_fit), "-.", color="tab:purple",
                label=f"same shape, fitted: LR_max/(1 + {b_fit:.0f}/B)")
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel=ylabel,
           title=f"fitted slope on log-log axes: {p:.2f}")
    ax.set_xticks(bs, [str(int(b)) for b in bs])
    ax.minorticks_off()
    ax.legend(loc="upper left")
    return ax


def plot_noise_vs_batch(noise: dict[int, float], ax: Axes | None = None) -> Axes:
    """How noisy each curve is against batch size, with the 1/sqrt(B) of averaging B examples."""
    ax = _ax(ax)
    bs = np.asarray(sorted(noise), float)
    vals = np.asarray([noise[int(b)] for b in bs])
    ax.plot(bs, vals, "o-", label="noise of the loss curve (median over seeds)")
    ref = vals[0] * np.sqrt(bs[0] / bs)
    ax.plot(bs, ref, "--", color="0.5", label="1/sqrt(B), from the smallest batch")
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="step-to-step noise of the raw loss")
    ax.set_xticks(bs, [str(int(b)) for b in bs])
    ax.minorticks_off()
    ax.legend()
    return ax


def plot_group_lrs(lrs: Sequence[float], names: Sequence[str], ax: Axes | None = None, *,
                   trainable: Sequence[bool] | None = None, label: str | None = None) -> Axes:
    """The LR of each layer group along the network, input on the left, head on the right."""
    ax = _ax(ax)
    x = np.arange(len(lrs))
    colors = ["tab:blue" if (trainable is None or t) else "0.75" for t in (trainable or [True] * len(lrs))]
    ax.bar(x, lrs, color=colors, label=label)
    for xi, lr in zip(x, lrs):
        ax.annotate(f"{lr:.1e}", (xi, lr), ha="center", va="bottom", textcoords="offset points", xytext=(0, 3))
    ax.set(yscale="log", ylabel="learning rate", xticks=x)
    ax.set_xticklabels(names)
    ax.set_ylim(min(lrs) / 3, max(lrs) * 4)
    if trainable is not None and not all(trainable):
        ax.set_title("grey: frozen group (only its batch-norm layers train)")
    return ax


def plot_group_schedules(per_group: Sequence[Sequence[float]], names: Sequence[str], ax: Axes | None = None) -> Axes:
    """Each layer group's LR across the iterations of a run (log scale)."""
    ax = _ax(ax)
    for lrs, name in zip(per_group, names):
        ax.plot(np.arange(len(lrs)), lrs, label=name)
    ax.set(yscale="log", xlabel="iteration", ylabel="learning rate")
    ax.legend()
    return ax


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
    ax = _ax(ax)
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
    """The loss of a :func:`lrkit.curvature.gd_on_quadratic` path, step by step (log scale)."""
    from matplotlib.ticker import LogFormatter, LogLocator, NullLocator

    ax = _ax(ax)
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
    ax = _ax(ax)
    for i, run in enumerate(runs):
        color = f"C{i}"
        ax.plot(run.steps, run.sharpness, "-o", ms=3, color=color, label=f"lr {run.lr:g}")
        ax.axhline(run.edge, color=color, ls="--", lw=1)
    ax.set(xlabel="step", ylabel="sharpness (top Hessian eigenvalue)",
           title="sharpness reaches the edge 2/lr (dashed) and hovers near it")
    ax.legend()
    return ax


def plot_loss_runs(runs: Sequence, ax: Axes | None = None) -> Axes:
    """Training loss of full-batch gradient descent, one line per LR."""
    ax = _ax(ax)
    for i, run in enumerate(runs):
        ax.plot(np.arange(len(run.loss)), run.loss, color=f"C{i}", lw=1, label=f"lr {run.lr:g}")
    ax.set(yscale="log", xlabel="step", ylabel="training loss", title="the loss keeps falling, not monotonically")
    ax.legend()
    return ax


def plot_sharpness_during_test(lrs: Sequence[float], sharpness: Sequence[float], momentum: float = 0.0, *,
                               takeoff: float | None = None, ax: Axes | None = None, label: str = "") -> Axes:
    """Sharpness measured while the range test trains, against the LR of that moment, with the
    stability limit: above the line 2(1+beta)/lr the step is too large for the curvature."""
    ax = _ax(ax)
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


def plot_effective_lrs(runs: Sequence[FitResult], ax: Axes | None = None, *,
                       suggestions: dict[str, float] | None = None) -> Axes:
    """The step size each run took, iteration by iteration (``d * lr`` for Prodigy and
    D-Adaptation), with the range test's suggestions as horizontal lines."""
    ax = _ax(ax)
    for r in runs:
        ax.plot(np.arange(len(r.effective_lrs)), r.effective_lrs, label=r.label)
    for method, lr in (suggestions or {}).items():
        if lr is not None:
            ax.axhline(lr, color=SUGGESTION_COLORS.get(method, "0.4"), ls="--", lw=1,
                       label=f"range test: {method} {lr:.1e}")
    ax.set(yscale="log", xlabel="iteration", ylabel="effective learning rate")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return ax


def plot_branch_lrs(branches: Sequence[FitResult], ax: Axes | None = None) -> Axes:
    """The LR of each branch of one warmup-stable-decay run: a shared trunk, then each decay."""
    ax = _ax(ax)
    for r in sorted(branches, key=lambda r: -len(r.lrs)):  # the longest under the others
        ax.plot(np.arange(len(r.lrs)), r.lrs, label=r.label, lw=2)
    ax.set(xlabel="iteration", ylabel="learning rate")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return ax
