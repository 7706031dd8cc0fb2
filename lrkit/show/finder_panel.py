"""The range-test panel (lesson 01)."""
from __future__ import annotations

import html
from typing import Callable, Sequence

import ipywidgets as W
from matplotlib.figure import Figure

from lrkit.methods.range_test import FinderResult, FinderSettings, find_lr, resmooth
from lrkit.runs.seeds import SeedSpread, spread_of
from lrkit.show.range_test_plots import plot_lr_find, plot_lr_schedule, plot_seed_spread
from lrkit.methods.suggestions import METHODS
from lrkit.show.panel_base import Panel

__all__ = ["FinderPanel"]


class FinderPanel(Panel):
    """LR range test panel: schedule, data and seeds behind *Run*; smoothing and marks live.

    ``build(bs, opt, seed)`` returns a fresh fastai ``Learner``.
    """

    def __init__(self, build: Callable[[int, str, int], object], *, num_it: int = 100, bs: int = 64,
                 opt: str = "sgd", seeds: int = 1, batch_sizes: Sequence[int] = (4, 8, 16, 32, 64, 128),
                 spread: SeedSpread | None = None):
        super().__init__()
        self.build = build
        slider = dict(continuous_update=False, style={"description_width": "90px"})
        self.start_lr = W.FloatLogSlider(value=1e-7, base=10, min=-9, max=-2, description="start LR", **slider)
        self.end_lr = W.FloatLogSlider(value=10, base=10, min=-2, max=2, description="end LR", **slider)
        self.num_it = W.IntSlider(value=num_it, min=10, max=500, step=10, description="iterations", **slider)
        self.bs = W.Dropdown(options=list(batch_sizes), value=bs, description="batch size", style=slider["style"])
        self.opt = W.ToggleButtons(options=["sgd", "adam"], value=opt, description="optimizer", style=slider["style"])
        self.n_seeds = W.IntSlider(value=seeds, min=1, max=5, description="seeds", **slider)
        self.run_button = W.Button(description="Run range test", button_style="primary", icon="play")
        self.beta = W.FloatSlider(value=0.98, min=0.0, max=0.995, step=0.005, description="smoothing",
                                  readout_format=".3f", **slider)
        self.methods = W.SelectMultiple(options=list(METHODS), value=("valley",), description="suggestions",
                                        rows=4, style=slider["style"])
        self.show_raw = W.Checkbox(value=False, description="show raw loss")
        self.spread = spread
        self._redraw_on(self.beta, self.methods, self.show_raw)
        self.run_button.on_click(lambda _: self.run())
        training = W.VBox([W.HTML("<b>Needs a run</b>"), self.start_lr, self.end_lr, self.num_it, self.bs, self.opt,
                           self.n_seeds, self.run_button])
        picture = W.VBox([W.HTML("<b>Redraws at once</b>"), self.beta, self.methods, self.show_raw])
        self.widget = W.VBox([W.HBox([training, picture]), self.status, self.picture, self.out])
        if spread is not None:
            self.redraw()

    def settings(self) -> FinderSettings:
        return FinderSettings(start_lr=self.start_lr.value, end_lr=self.end_lr.value, num_it=self.num_it.value)

    def run(self) -> None:
        """Train: one range test per seed, then draw."""
        self.status.value = "running..."
        try:
            settings = self.settings()  # validates before any training
            with self.out, self._busy(self.run_button):
                results = [find_lr(self.build(self.bs.value, self.opt.value, seed), settings=settings, seed=seed,
                                   label=f"seed {seed}") for seed in range(self.n_seeds.value)]
            self.spread = spread_of(results)
            self.status.value = self._summary()
        except Exception as err:  # shown in the panel, not as a traceback
            self._error(err)
            return
        self._redraw_safely()

    def _summary(self) -> str:
        r = self.spread.results[0]
        notes = " ".join(html.escape(n) for n in r.notes[:1])
        return (f"{len(self.spread.results)} run(s), batch size {r.batch_size}, {self.opt.value}: "
                f"{len(r.lrs)} of {r.settings.num_it} iterations, stopped: {r.stop_reason}. {notes}")

    def shown_results(self) -> list[FinderResult]:
        """The stored runs as the picture controls want them (smoothing applied, no retraining)."""
        return [r if r.settings.beta == self.beta.value else resmooth(r, self.beta.value) for r in self.spread.results]

    def redraw(self, *_) -> None:
        if self.spread is None:
            return
        try:
            results = self.shown_results()
            fig = Figure(figsize=(12, 4), layout="constrained")
            ax_lr, ax_loss = fig.subplots(1, 2, width_ratios=(1, 2))
            plot_lr_schedule(results[0], ax=ax_lr)
            if len(results) == 1:
                plot_lr_find(results[0], ax=ax_loss, methods=self.methods.value, show_raw=self.show_raw.value)
            else:
                plot_seed_spread(spread_of(results), ax=ax_loss, method=self.methods.value,
                                 show_raw=self.show_raw.value)
        except Exception as err:
            self._error(err)
            return
        self._show(fig)
