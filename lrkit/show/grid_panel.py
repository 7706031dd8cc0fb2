"""The ground-truth grid's panel: choose the optimizer and the target; the best LR and the steps to
the target against the batch size redraw from the stored grid, nothing trains."""
from __future__ import annotations

from typing import Sequence

import ipywidgets as W
from matplotlib.figure import Figure

from lrkit.runs.grid import GridResult, critical_batch_size, per_seed_best, reaches
from lrkit.show.grid_plots import OPTIMIZER_COLORS, plot_best_lr_vs_batch, plot_steps_vs_batch, seed_band
from lrkit.show.panel_base import Panel

__all__ = ["GridPanel"]



class GridPanel(Panel):
    """``targets`` are the levels of the grid's metric the slider offers (at most ``spec.stop_at``,
    which the cells trained to)."""

    def __init__(self, grid: GridResult, targets: Sequence[float]):
        super().__init__()
        spec = grid.spec
        too_high = [t for t in targets if not reaches(spec.stop_at, t, spec.metric)]
        if not targets or too_high:
            raise ValueError(f"Expected targets the cells trained to (up to {spec.stop_at}), got {list(targets)}; "
                             f"the grid stops each cell there, so a higher one is never reached")
        self.grid = grid
        style = {"description_width": "80px"}
        self.optimizer = W.ToggleButtons(options=list(spec.optimizers), description="optimizer", style=style)
        self.target = W.SelectionSlider(options=[(f"{t:g}", t) for t in targets], value=targets[-1],
                                        description=f"target {spec.metric}", style={"description_width": "120px"},
                                        layout=W.Layout(width="420px"))
        self._redraw_on(self.optimizer, self.target)
        self.widget = W.VBox([W.HBox([self.optimizer, self.target]), self.status, self.picture, self.out])
        self.redraw()

    def redraw(self, *_) -> None:
        opt, target, metric = self.optimizer.value, self.target.value, self.grid.spec.metric
        best = per_seed_best(self.grid, opt, target, metric)
        color = OPTIMIZER_COLORS.get(opt, "tab:blue")
        sizes, steps, _, _ = seed_band(best, 1)
        front, note = None, "reached at too few batch sizes to fit the front"
        if len(sizes) >= 3:
            s_min, b_crit, bend = critical_batch_size(sizes, steps)
            front = (s_min, b_crit)
            note = (f"critical batch size {b_crit:.3g}" if bend else
                    f"no bend in the measured range (the fit ends at its bound, {b_crit:.3g})")
        reached = sum(v is not None for per in best.values() for v in per.values())
        total = sum(len(per) for per in best.values())
        self.status.value = (f"{opt}, {metric} {target:g}: reached by {reached} of {total} (batch size, seed) "
                             f"pairs at their best LR; {note}")
        fig = Figure(figsize=(13, 5))
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.33, top=0.92, wspace=0.25)
        ax_lr, ax_steps = fig.subplots(1, 2)
        lrs = self.grid.spec.lrs_for(opt)
        below = dict(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # off the data
        plot_best_lr_vs_batch(best, ax=ax_lr, label=opt, color=color, lr_range=(min(lrs), max(lrs))).legend(**below)
        plot_steps_vs_batch(best, ax=ax_steps, label=opt, color=color, front=front).legend(**below)
        self._show(fig)
