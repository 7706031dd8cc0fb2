"""The batch-size panel over the sweep's result cache (lesson 05)."""
from __future__ import annotations

import html
from typing import Callable, Sequence

import ipywidgets as W
from matplotlib.figure import Figure

from lrkit.show.panel_base import Panel, nothing_cached

__all__ = ["BatchSizePanel"]


class BatchSizePanel(Panel):
    """Range-test curves for several batch sizes, drawn from the result cache at once; *Compute
    missing* runs only the cells the cache lacks, with a progress bar.

    ``build(spec, bs, seed)`` returns a fresh learner (see :func:`lrkit.runs.learners.sweep_builder`).
    """

    def __init__(self, spec, build: Callable, *, cache=None, batch_sizes: Sequence[int] = (64, 32, 16, 8, 4),
                 seeds: int = 2, datasets: Sequence[str] = ("fashion_mnist", "cats_dogs")):
        from lrkit.core.cache import ResultCache

        super().__init__()
        self.spec, self.build = spec, build
        self.cache = cache if cache is not None else ResultCache()
        style = {"description_width": "90px"}
        options = sorted({256, 128, 64, 32, 16, 8, 4} | set(batch_sizes), reverse=True)  # the profile's too
        self.batch_sizes = W.SelectMultiple(options=options, value=tuple(batch_sizes),
                                            description="batch sizes", rows=len(options), style=style)
        self.n_seeds = W.IntSlider(value=seeds, min=1, max=5, description="seeds", continuous_update=False,
                                   style=style)
        self.opt = W.ToggleButtons(options=["sgd", "adam"], value=spec.opt, description="optimizer", style=style)
        self.dataset = W.Dropdown(options=list(datasets), value=spec.dataset, description="dataset", style=style)
        self.compute_button = W.Button(description="Compute missing", button_style="primary", icon="play",
                                       layout=W.Layout(width="180px"))
        self._redraw_on(self.batch_sizes, self.n_seeds, self.opt, self.dataset)
        self.compute_button.on_click(lambda _: self.compute())
        self.sweep = None
        self.widget = W.VBox([W.HBox([self.batch_sizes, W.VBox([self.dataset, self.opt, self.n_seeds,
                                                                self.compute_button])]),
                              self.status, self.picture, self.out])
        self.redraw()

    def current_spec(self):
        from dataclasses import replace

        return replace(self.spec, opt=self.opt.value, dataset=self.dataset.value)

    def _sweep(self, compute: bool):
        from lrkit.runs.sweeps import run_sweep

        return run_sweep(self.current_spec(), sorted(self.batch_sizes.value), range(self.n_seeds.value),
                         build=self.build, cache=self.cache, compute=compute, progress=compute)

    def compute(self) -> None:
        self.status.value = "computing the missing cells..."
        try:
            with self.out, self._busy(self.compute_button):
                result = self._sweep(compute=True)
        except Exception as err:
            self._error(err)
            return
        skipped = "; ".join(result.skipped.values())
        self.status.value = f"computed {len(result.computed)} cell(s). {html.escape(skipped)}"
        self.redraw(status=False)

    def redraw(self, *_, status: bool = True) -> None:
        from lrkit.show.batch_plots import plot_batch_overlay, plot_noise_vs_batch
        from lrkit.methods.curve_stats import curve_noise, divergence_lr

        if not self.batch_sizes.value:
            self.status.value = "Select at least one batch size."
            return
        try:
            self.sweep = self._sweep(compute=False)
        except Exception as err:
            self._error(err)
            return
        if status:
            n_missing = len(self.sweep.missing)
            self.status.value = (f"{len(self.sweep.cells)} cell(s) from the cache"
                                 + (f"; {n_missing} missing: press Compute missing" if n_missing else ""))
        fig = Figure(figsize=(12, 4))
        fig.subplots_adjust(left=0.07, right=0.97, bottom=0.14, top=0.92, wspace=0.3)
        ax_curves, ax_noise = fig.subplots(1, 2, width_ratios=(1.6, 1))
        first_seed = {bs: self.sweep.by_batch_size(bs)[0] for bs in self.sweep.batch_sizes}
        if first_seed:
            plot_batch_overlay(first_seed, ax=ax_curves, mark=divergence_lr)
            ax_curves.set_title("seed 0; dots: where the loss doubles")
            plot_noise_vs_batch(self.sweep.median_statistic(curve_noise), ax=ax_noise)
        else:
            nothing_cached(ax_curves, ax_noise)
        self._show(fig)
