"""Panels that train beside stored runs: an LR of your own (02), the schedule's shape (03), the
slice of discriminative LRs (04), ReduceLROnPlateau's knobs (06)."""
from __future__ import annotations

from typing import Callable, Sequence

import ipywidgets as W
from matplotlib.figure import Figure

from lrkit.show.axes import check_colors
from lrkit.show.training_plots import plot_fit_histories, plot_schedule
from lrkit.runs.training import FitResult
from lrkit.show.panel_base import TrialPanel

__all__ = ["LRTrialPanel", "SchedulePanel", "DiscriminativePanel", "PlateauPanel"]

TRIAL_COLORS = ("black", "tab:pink", "tab:olive", "tab:cyan", "tab:brown")  # a learner's own runs


class LRTrialPanel(TrialPanel):
    """Try your own learning rate: ``train(lr, epochs)`` returns a :class:`FitResult`, drawn
    beside the reference runs."""

    def __init__(self, train: Callable[[float, int], FitResult], references: Sequence[FitResult], *,
                 lr: float = 1e-2, epochs: int = 3, chance: float | None = None):
        super().__init__(references)
        self.train, self.chance = train, chance
        self.lr = W.FloatLogSlider(value=lr, base=10, min=-6, max=1, description="learning rate",
                                   continuous_update=False, readout_format=".1e")
        self.epochs = W.IntSlider(value=epochs, min=1, max=10, description="epochs", continuous_update=False)
        self.train_button = W.Button(description="Train", button_style="primary", icon="play")
        self.clear_button = W.Button(description="Clear my runs")
        self.train_button.on_click(lambda _: self.run())
        self.clear_button.on_click(lambda _: self.clear())
        self.widget = W.VBox([W.HBox([self.lr, self.epochs, self.train_button, self.clear_button]),
                              self.status, self.picture, self.out])
        self.redraw()

    def run(self) -> None:
        result = self._train(lambda: self.train(self.lr.value, self.epochs.value), self.train_button,
                             self.clear_button)
        if result is None:
            return
        verdict = "diverged: the loss became NaN/inf" if result.diverged else f"accuracy {result.final_accuracy:.1%}"
        self.status.value = f"lr {result.lr:.1e}, {len(result.accuracy)} epochs: {verdict}"
        self._redraw_safely()

    def redraw(self) -> None:
        fig = Figure(figsize=(11, 3.8), layout="constrained")
        ax_acc, ax_loss = fig.subplots(1, 2)
        runs = self.references + self.trials
        plot_fit_histories(runs, "accuracy", ax=ax_acc, chance=self.chance)
        plot_fit_histories(runs, "valid_loss", ax=ax_loss)
        self._show(fig)


class SchedulePanel(TrialPanel):
    """Reshape a 1cycle schedule live (no training), then train with it behind a button.

    ``train(lr_max, div, div_final, pct_start, moms)`` returns a :class:`FitResult`; its curves are
    drawn beside ``references``.
    """

    def __init__(self, n_epoch: int, n_iter_per_epoch: int, *, lr_max: float = 1e-2,
                 train: Callable[..., FitResult] | None = None, references: Sequence[FitResult] = ()):
        super().__init__(references)
        self.n_epoch, self.n_iter = n_epoch, n_iter_per_epoch
        self.train = train
        live = dict(continuous_update=True, style={"description_width": "80px"})
        self.lr_max = W.FloatLogSlider(value=lr_max, base=10, min=-5, max=0, description="lr_max",
                                       readout_format=".1e", **live)
        self.pct_start = W.FloatSlider(value=0.25, min=0.05, max=0.95, step=0.05, description="pct_start", **live)
        self.div = W.FloatLogSlider(value=25, base=10, min=0, max=3, description="div", readout_format=".0f", **live)
        self.div_final = W.FloatLogSlider(value=1e5, base=10, min=1, max=7, description="div_final",
                                          readout_format=".0e", **live)
        self.moms = W.FloatRangeSlider(value=(0.85, 0.95), min=0.5, max=0.99, step=0.01, description="momentum",
                                       **live)
        self._redraw_on(self.lr_max, self.pct_start, self.div, self.div_final, self.moms)
        self.train_button = W.Button(description="Train with this schedule", button_style="primary", icon="play",
                                     layout=W.Layout(width="220px"), disabled=train is None)
        self.train_button.on_click(lambda _: self.run())
        self.widget = W.VBox([W.HBox([W.VBox([self.lr_max, self.pct_start, self.div]),
                                      W.VBox([self.div_final, self.moms, self.train_button])]),
                              self.status, self.picture, self.out])
        self.redraw()

    def params(self) -> dict:
        low, high = self.moms.value
        return dict(lr_max=self.lr_max.value, div=self.div.value, div_final=self.div_final.value,
                    pct_start=self.pct_start.value, moms=(high, low, high))

    def redraw(self, *_) -> None:
        from lrkit.methods.schedules import one_cycle_shape

        try:
            shape = one_cycle_shape(self.n_epoch, self.n_iter, **self.params())
        except ValueError as err:
            self._error(err)
            return
        runs = self.references + self.trials
        # a fixed layout: constrained layout would double the time to render each change
        fig = Figure(figsize=(12, 3.6))
        fig.subplots_adjust(left=0.07, right=0.93, bottom=0.14, top=0.9, wspace=0.35)
        axes = fig.subplots(1, 2 if runs else 1, squeeze=False)[0]
        plot_schedule(shape.lrs, shape.moms, ax=axes[0], n_iter_per_epoch=self.n_iter)
        # the schedule's own ends, lr_max/div and lr_max/div_final: the last iteration's LR sits above the
        # final one by the cosine's tail, which would hide what div_final does
        p = self.params()
        axes[0].set_title(f"1cycle over {self.n_epoch} epochs: LR {p['lr_max'] / p['div']:.1e} -> "
                          f"{p['lr_max']:.1e} -> {p['lr_max'] / p['div_final']:.1e}")
        if runs:
            plot_fit_histories(runs, "valid_loss", ax=axes[1])
        self._show(fig)

    def run(self) -> None:
        result = self._train(lambda: self.train(**self.params()), self.train_button)
        if result is None:
            return
        self.status.value = (f"trained: final validation loss {result.valid_loss[-1]:.3f}, "
                             f"accuracy {result.final_accuracy:.1%}")
        self._redraw_safely()


class DiscriminativePanel(TrialPanel):
    """Sliders for ``slice(lo, hi)``: the LR of each layer group redraws live; *Train* trains with it.

    ``train(lr_spec)`` returns a :class:`FitResult` drawn beside ``references``.
    """

    def __init__(self, group_names: Sequence[str], *, lo: float = 1e-4, hi: float = 1e-2,
                 train: Callable[[slice], FitResult] | None = None, references: Sequence[FitResult] = (),
                 reference_colors: Sequence[str] | None = None):
        super().__init__(references)
        check_colors(reference_colors, len(self.references), "reference run")
        self.names, self.train = list(group_names), train
        self.reference_colors = list(reference_colors) if reference_colors is not None else None
        style = {"description_width": "110px"}
        self.lo = W.FloatLogSlider(value=lo, base=10, min=-7, max=-1, description="lo (first group)",
                                   readout_format=".1e", style=style)
        self.hi = W.FloatLogSlider(value=hi, base=10, min=-5, max=0, description="hi (head)", readout_format=".1e",
                                   style=style)
        self._redraw_on(self.lo, self.hi)
        self.train_button = W.Button(description="Train with this slice", button_style="primary", icon="play",
                                     disabled=train is None, layout=W.Layout(width="200px"))
        self.train_button.on_click(lambda _: self.run())
        self.widget = W.VBox([W.HBox([self.lo, self.hi, self.train_button]), self.status, self.picture, self.out])
        self.redraw()

    def spec(self) -> slice:
        return slice(self.lo.value, self.hi.value)

    def redraw(self, *_) -> None:
        from lrkit.methods.discriminative import group_lrs
        from lrkit.show.training_plots import plot_group_lrs

        try:
            lrs = group_lrs(self.spec(), len(self.names))
        except ValueError as err:
            self._error(err)
            return
        self.status.value = f"lr_max=slice({self.lo.value:.1e}, {self.hi.value:.1e})"
        runs = self.references + self.trials
        fig = Figure(figsize=(13, 3.6))
        fig.subplots_adjust(left=0.06, right=0.7 if runs else 0.97, bottom=0.15, top=0.88, wspace=0.3)
        axes = fig.subplots(1, 2 if runs else 1, squeeze=False)[0]
        plot_group_lrs(lrs, self.names, ax=axes[0])
        if runs:
            colors = None
            if self.reference_colors is not None:  # the lesson's colours for its runs; the learner's in others
                colors = self.reference_colors + [TRIAL_COLORS[i % len(TRIAL_COLORS)] for i in range(len(self.trials))]
            plot_fit_histories(runs, "accuracy", ax=axes[1], colors=colors, legend_outside=True)
        self._show(fig)

    def run(self) -> None:
        spec = self.spec()
        result = self._train(lambda: self.train(spec), self.train_button)
        if result is None:
            return
        if self._redraw_safely():  # it sets the status to the slice; the result goes after it
            self.status.value = f"trained with slice({spec.start:.1e}, {spec.stop:.1e}): accuracy {result.final_accuracy:.1%}"


class PlateauPanel(TrialPanel):
    """ReduceLROnPlateau's settings (patience, factor, threshold) behind *Train*: each run is drawn
    beside the stored ones, its LR per epoch and its validation loss.

    ``train(patience, factor, min_delta)`` returns a :class:`FitResult`."""

    def __init__(self, train: Callable[..., FitResult], references: Sequence[FitResult], *, patience: int = 1,
                 factor: float = 10.0, min_delta: float = 0.0):
        super().__init__(references)
        self.train = train
        style = {"description_width": "110px"}
        self.patience = W.IntSlider(value=patience, min=0, max=5, description="patience (epochs)", style=style)
        self.factor = W.SelectionSlider(options=[2.0, 3.0, 5.0, 10.0, 30.0, 100.0], value=factor,
                                        description="divide LR by", style=style)
        self.min_delta = W.SelectionSlider(options=[0.0, 0.001, 0.003, 0.01, 0.03, 0.1], value=min_delta,
                                           description="threshold", style=style)
        self.train_button = W.Button(description="Train with these settings", button_style="primary", icon="play",
                                     layout=W.Layout(width="220px"))
        self.clear_button = W.Button(description="Clear my runs")
        self.train_button.on_click(lambda _: self.run())
        self.clear_button.on_click(lambda _: self.clear())
        self.widget = W.VBox([W.HBox([W.VBox([self.patience, self.factor, self.min_delta]),
                                      W.VBox([self.train_button, self.clear_button])]), self.status, self.picture, self.out])
        self.redraw()

    def run(self) -> None:
        settings = dict(patience=self.patience.value, factor=self.factor.value, min_delta=self.min_delta.value)
        result = self._train(lambda: self.train(**settings), self.train_button, self.clear_button)
        if result is None:
            return
        lrs = result.lr_per_epoch
        drops = [e + 1 for e in range(1, len(lrs)) if lrs[e] < lrs[e - 1]]
        self.status.value = (f"patience {settings['patience']}, factor {settings['factor']:g}, threshold "
                             f"{settings['min_delta']:g}: lower LR from epoch(s) {drops or 'none'}; final "
                             f"validation loss {result.valid_loss[-1]:.3f}")
        self._redraw_safely()

    def redraw(self) -> None:
        from lrkit.show.training_plots import plot_lr_per_epoch

        runs = self.references + self.trials
        fig = Figure(figsize=(12, 3.8))
        fig.subplots_adjust(left=0.07, right=0.97, bottom=0.14, top=0.92, wspace=0.25)
        ax_lr, ax_loss = fig.subplots(1, 2)
        plot_lr_per_epoch(runs, ax=ax_lr)
        plot_fit_histories(runs, "valid_loss", ax=ax_loss)
        self._show(fig)
