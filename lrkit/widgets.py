"""Widget panels over the plot functions. Controls that only change the picture redraw from the
stored result; controls that need training act behind a button. Errors show in the panel."""
from __future__ import annotations

import base64
import html
import io
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import ipywidgets as W
from IPython.display import display
from matplotlib.figure import Figure

from .finder import FinderResult, FinderSettings, find_lr, resmooth
from .multiseed import SeedSpread, spread_of
from .plots import plot_fit_histories, plot_lr_find, plot_lr_schedule, plot_schedule, plot_seed_spread
from .suggestions import METHODS
from .training import FitResult

__all__ = ["FinderPanel", "LRTrialPanel", "SchedulePanel", "BatchSizePanel", "DiscriminativePanel", "QuadraticPanel",
           "ConditionsPanel", "PlateauPanel"]


def _nothing_cached(*axes) -> None:
    """An empty picture that says what to do, for a choice the result cache does not hold yet."""
    for ax in axes:
        ax.set_axis_off()
    axes[0].text(0.5, 0.5, "Nothing in the cache for this choice yet:\npress Compute missing",
                 ha="center", va="center", fontsize=13, transform=axes[0].transAxes)


class _Panel:
    """Status line, output area and the error handling shared by the panels."""

    def __init__(self):
        self.status = W.HTML()
        self.out = W.Output()
        self.figure: Figure | None = None

    def _error(self, err: BaseException) -> None:
        self.status.value = f'<span style="color:#b00020"><b>{type(err).__name__}:</b> {html.escape(str(err))}</span>'

    @contextmanager
    def _busy(self, *buttons: W.Button) -> Iterator[None]:
        """Buttons disabled while the panel trains, so a second click cannot start a second run."""
        before = [b.disabled for b in buttons]
        for b in buttons:
            b.disabled = True
        try:
            yield
        finally:
            for b, was in zip(buttons, before):
                b.disabled = was

    def _show(self, fig: Figure) -> None:
        """Render ``fig`` to PNG once and show it. (``display(fig)`` renders twice, to crop the
        margins; the panels lay out their figures themselves, so there is nothing to crop.)

        The picture is set as the output area's state, not displayed inside ``with self.out``: from a
        control's callback that output is routed by the id of the message that triggered it, and
        when the page was slow to take in that id the picture was dropped, while the status line,
        set as state, changed (seen in the browser test under load)."""
        self.figure = fig
        png = io.BytesIO()
        fig.savefig(png, format="png")
        picture = {"image/png": base64.b64encode(png.getvalue()).decode("ascii"), "text/plain": repr(fig)}
        self.out.outputs = ({"output_type": "display_data", "data": picture, "metadata": {}},)

    def _ipython_display_(self):
        display(self.widget)


class FinderPanel(_Panel):
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
        for control in (self.beta, self.methods, self.show_raw):
            control.observe(self.redraw, names="value")
        self.run_button.on_click(lambda _: self.run())
        training = W.VBox([W.HTML("<b>Needs a run</b>"), self.start_lr, self.end_lr, self.num_it, self.bs, self.opt,
                           self.n_seeds, self.run_button])
        picture = W.VBox([W.HTML("<b>Redraws at once</b>"), self.beta, self.methods, self.show_raw])
        self.widget = W.VBox([W.HBox([training, picture]), self.status, self.out])
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
        self.redraw()

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


class _TrialPanel(_Panel):
    """A panel whose button trains a run that is kept and drawn beside the reference runs."""

    def __init__(self, references: Sequence[FitResult]):
        super().__init__()
        self.references, self.trials = list(references), []

    def _train(self, call: Callable[[], FitResult], *buttons: W.Button) -> FitResult | None:
        """``call()`` with the buttons disabled; the run is kept, or the error shown in the panel."""
        self.status.value = "training..."
        try:
            with self.out, self._busy(*buttons):
                result = call()
        except Exception as err:
            self._error(err)
            return None
        self.trials.append(result)
        return result

    def clear(self) -> None:
        self.trials = []
        self.status.value = ""
        self.redraw()


class LRTrialPanel(_TrialPanel):
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
                              self.status, self.out])
        self.redraw()

    def run(self) -> None:
        result = self._train(lambda: self.train(self.lr.value, self.epochs.value), self.train_button,
                             self.clear_button)
        if result is None:
            return
        verdict = "diverged: the loss became NaN/inf" if result.diverged else f"accuracy {result.final_accuracy:.1%}"
        self.status.value = f"lr {result.lr:.1e}, {len(result.accuracy)} epochs: {verdict}"
        self.redraw()

    def redraw(self) -> None:
        fig = Figure(figsize=(11, 3.8), layout="constrained")
        ax_acc, ax_loss = fig.subplots(1, 2)
        runs = self.references + self.trials
        plot_fit_histories(runs, "accuracy", ax=ax_acc, chance=self.chance)
        plot_fit_histories(runs, "valid_loss", ax=ax_loss)
        self._show(fig)


class SchedulePanel(_TrialPanel):
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
        for control in (self.lr_max, self.pct_start, self.div, self.div_final, self.moms):
            control.observe(self.redraw, names="value")
        self.train_button = W.Button(description="Train with this schedule", button_style="primary", icon="play",
                                     layout=W.Layout(width="220px"), disabled=train is None)
        self.train_button.on_click(lambda _: self.run())
        self.widget = W.VBox([W.HBox([W.VBox([self.lr_max, self.pct_start, self.div]),
                                      W.VBox([self.div_final, self.moms, self.train_button])]),
                              self.status, self.out])
        self.redraw()

    def params(self) -> dict:
        low, high = self.moms.value
        return dict(lr_max=self.lr_max.value, div=self.div.value, div_final=self.div_final.value,
                    pct_start=self.pct_start.value, moms=(high, low, high))

    def redraw(self, *_) -> None:
        from .schedules import one_cycle_shape

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
        axes[0].set_title(f"1cycle over {self.n_epoch} epochs: LR {shape.lrs[0]:.1e} -> "
                          f"{max(shape.lrs):.1e} -> {shape.lrs[-1]:.1e}")
        if runs:
            plot_fit_histories(runs, "valid_loss", ax=axes[1])
        self._show(fig)

    def run(self) -> None:
        result = self._train(lambda: self.train(**self.params()), self.train_button)
        if result is None:
            return
        self.status.value = (f"trained: final validation loss {result.valid_loss[-1]:.3f}, "
                             f"accuracy {result.final_accuracy:.1%}")
        self.redraw()


class BatchSizePanel(_Panel):
    """Range-test curves for several batch sizes, drawn from the result cache at once; *Compute
    missing* runs only the cells the cache lacks, with a progress bar.

    ``build(spec, bs, seed)`` returns a fresh learner (see :func:`lrkit.experiments.sweep_builder`).
    """

    def __init__(self, spec, build: Callable, *, cache=None, batch_sizes: Sequence[int] = (64, 32, 16, 8, 4),
                 seeds: int = 2, datasets: Sequence[str] = ("fashion_mnist", "cats_dogs")):
        from .cache import ResultCache

        super().__init__()
        self.spec, self.build = spec, build
        self.cache = cache if cache is not None else ResultCache()
        style = {"description_width": "90px"}
        self.batch_sizes = W.SelectMultiple(options=[128, 64, 32, 16, 8, 4], value=tuple(batch_sizes),
                                            description="batch sizes", rows=6, style=style)
        self.n_seeds = W.IntSlider(value=seeds, min=1, max=5, description="seeds", continuous_update=False,
                                   style=style)
        self.opt = W.ToggleButtons(options=["sgd", "adam"], value=spec.opt, description="optimizer", style=style)
        self.dataset = W.Dropdown(options=list(datasets), value=spec.dataset, description="dataset", style=style)
        self.compute_button = W.Button(description="Compute missing", button_style="primary", icon="play",
                                       layout=W.Layout(width="180px"))
        for control in (self.batch_sizes, self.n_seeds, self.opt, self.dataset):
            control.observe(self.redraw, names="value")
        self.compute_button.on_click(lambda _: self.compute())
        self.sweep = None
        self.widget = W.VBox([W.HBox([self.batch_sizes, W.VBox([self.dataset, self.opt, self.n_seeds,
                                                                self.compute_button])]),
                              self.status, self.out])
        self.redraw()

    def current_spec(self):
        from dataclasses import replace

        return replace(self.spec, opt=self.opt.value, dataset=self.dataset.value)

    def _sweep(self, compute: bool):
        from .sweeps import run_sweep

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
        from .plots import plot_batch_overlay, plot_noise_vs_batch
        from .sweeps import curve_noise, divergence_lr

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
            _nothing_cached(ax_curves, ax_noise)
        self._show(fig)


class DiscriminativePanel(_TrialPanel):
    """Sliders for ``slice(lo, hi)``: the LR of each layer group redraws live; *Train* trains with it.

    ``train(lr_spec)`` returns a :class:`FitResult` drawn beside ``references``.
    """

    def __init__(self, group_names: Sequence[str], *, lo: float = 1e-4, hi: float = 1e-2,
                 train: Callable[[slice], FitResult] | None = None, references: Sequence[FitResult] = ()):
        super().__init__(references)
        self.names, self.train = list(group_names), train
        style = {"description_width": "110px"}
        self.lo = W.FloatLogSlider(value=lo, base=10, min=-7, max=-1, description="lo (first group)",
                                   readout_format=".1e", style=style)
        self.hi = W.FloatLogSlider(value=hi, base=10, min=-5, max=0, description="hi (head)", readout_format=".1e",
                                   style=style)
        for control in (self.lo, self.hi):
            control.observe(self.redraw, names="value")
        self.train_button = W.Button(description="Train with this slice", button_style="primary", icon="play",
                                     disabled=train is None, layout=W.Layout(width="200px"))
        self.train_button.on_click(lambda _: self.run())
        self.widget = W.VBox([W.HBox([self.lo, self.hi, self.train_button]), self.status, self.out])
        self.redraw()

    def spec(self) -> slice:
        return slice(self.lo.value, self.hi.value)

    def redraw(self, *_) -> None:
        from .discriminative import group_lrs
        from .plots import plot_group_lrs

        try:
            lrs = group_lrs(self.spec(), len(self.names))
        except ValueError as err:
            self._error(err)
            return
        self.status.value = f"lr_max=slice({self.lo.value:.1e}, {self.hi.value:.1e})"
        runs = self.references + self.trials
        fig = Figure(figsize=(12, 3.6))
        fig.subplots_adjust(left=0.07, right=0.97, bottom=0.15, top=0.88, wspace=0.3)
        axes = fig.subplots(1, 2 if runs else 1, squeeze=False)[0]
        plot_group_lrs(lrs, self.names, ax=axes[0])
        if runs:
            plot_fit_histories(runs, "accuracy", ax=axes[1])
        self._show(fig)

    def run(self) -> None:
        spec = self.spec()
        result = self._train(lambda: self.train(spec), self.train_button)
        if result is None:
            return
        self.redraw()
        self.status.value = f"trained with slice({spec.start:.1e}, {spec.stop:.1e}): accuracy {result.final_accuracy:.1%}"


class QuadraticPanel(_Panel):
    """Gradient descent on a 2-D quadratic, redrawn at once: curvature, condition number, LR and
    momentum; the status says which regime the LR is in (pure NumPy, no training)."""

    def __init__(self, *, lambda_max: float = 10.0, condition: float = 5.0, lr: float = 0.05,
                 momentum: float = 0.0, steps: int = 40):
        super().__init__()
        self.steps = steps
        live = dict(continuous_update=True, style={"description_width": "110px"})
        self.lambda_max = W.FloatLogSlider(value=lambda_max, base=10, min=0, max=2, description="lambda_max",
                                           readout_format=".3g", **live)
        self.condition = W.FloatLogSlider(value=condition, base=10, min=0, max=2, description="condition number",
                                          readout_format=".3g", **live)
        self.lr = W.FloatLogSlider(value=lr, base=10, min=-3, max=0, description="learning rate",
                                   readout_format=".3g", **live)
        self.momentum = W.FloatSlider(value=momentum, min=0.0, max=0.95, step=0.05, description="momentum", **live)
        for control in (self.lambda_max, self.condition, self.lr, self.momentum):
            control.observe(self.redraw, names="value")
        self.widget = W.VBox([W.HBox([W.VBox([self.lambda_max, self.condition]), W.VBox([self.lr, self.momentum])]),
                              self.status, self.out])
        self.redraw()

    def path(self):
        from .curvature import gd_on_quadratic

        lam = self.lambda_max.value
        return gd_on_quadratic((lam, lam / self.condition.value), self.lr.value, momentum=self.momentum.value,
                               start=(1.0, 1.0), steps=self.steps)

    def redraw(self, *_) -> None:
        from .curvature import regime
        from .plots import plot_quadratic_loss, plot_quadratic_path, update_quadratic_plots

        try:
            path = self.path()
        except ValueError as err:
            self._error(err)
            return
        fig = self.figure
        if fig is None:  # the first draw builds the figure; later ones move its lines
            fig = Figure(figsize=(11, 4.2))
            fig.subplots_adjust(left=0.07, right=0.97, bottom=0.13, top=0.9, wspace=0.3)
            ax_path, ax_loss = fig.subplots(1, 2)
            plot_quadratic_path(path, ax=ax_path)
            plot_quadratic_loss(path, ax=ax_loss)
        else:
            update_quadratic_plots(path, *fig.axes)
        self.status.value = html.escape(regime(path.lr, max(path.eigenvalues), path.momentum))
        self._show(fig)


class ConditionsPanel(_Panel):
    """Optimizers and schedules side by side: the chosen conditions are drawn from the result cache
    at once (medians over seeds); *Compute missing* trains only what the cache lacks.

    ``conditions`` and ``cache_key`` are those given to :func:`lrkit.compare.run_conditions`, whose
    ``train(seed=..., label=..., **kwargs)`` trains one run."""

    def __init__(self, conditions: dict[str, dict], train: Callable[..., FitResult], seeds: Sequence[int], *,
                 cache_key: dict, cache=None, chosen: Sequence[str] | None = None,
                 suggestions: dict[str, float] | None = None):
        from .cache import ResultCache

        super().__init__()
        self.conditions, self.train, self.seeds = dict(conditions), train, list(seeds)
        self.cache_key, self.suggestions = cache_key, suggestions
        self.cache = cache if cache is not None else ResultCache()
        style = {"description_width": "90px"}
        self.chosen = W.SelectMultiple(options=list(self.conditions), value=tuple(chosen or self.conditions),
                                       description="conditions", rows=min(8, len(self.conditions)), style=style,
                                       layout=W.Layout(width="360px"))
        self.metric = W.ToggleButtons(options=[("accuracy", "accuracy"), ("validation loss", "valid_loss")],
                                      value="accuracy", description="metric", style=style)
        self.compute_button = W.Button(description="Compute missing", button_style="primary", icon="play",
                                       layout=W.Layout(width="180px"))
        for control in (self.chosen, self.metric):
            control.observe(self.redraw, names="value")
        self.compute_button.on_click(lambda _: self.compute())
        self.runs: dict[str, list[FitResult]] = {}
        self.widget = W.VBox([W.HBox([self.chosen, W.VBox([self.metric, self.compute_button])]),
                              self.status, self.out])
        self.redraw()

    def _chosen(self) -> dict[str, dict]:
        return {label: self.conditions[label] for label in self.chosen.value}

    def compute(self) -> None:
        from .compare import run_conditions

        chosen = self._chosen()
        if not chosen:
            self.status.value = "Select at least one condition."
            return
        self.status.value = "training the missing runs..."
        with self._busy(self.compute_button):
            try:
                with self.out:
                    run_conditions(self.train, chosen, self.seeds, cache_key=self.cache_key, cache=self.cache)
            except Exception as err:
                self._error(err)
                return
        self.redraw()

    def redraw(self, *_) -> None:
        from .compare import cached_conditions, median_history
        from .plots import plot_effective_lrs

        chosen = self._chosen()
        if not chosen:
            self.status.value = "Select at least one condition."
            return
        try:
            self.runs, missing = cached_conditions(chosen, self.seeds, self.cache_key, self.cache)
        except Exception as err:
            self._error(err)
            return
        complete = {label: runs for label, runs in self.runs.items() if len(runs) == len(self.seeds)}
        status = f"{len(complete)} of {len(chosen)} condition(s) from the cache, medians over {len(self.seeds)} seeds"
        if missing:
            status += f"; {len(missing)} run(s) missing: press Compute missing"
        self.status.value = status
        fig = Figure(figsize=(12, 4))
        fig.subplots_adjust(left=0.07, right=0.97, bottom=0.14, top=0.92, wspace=0.28)
        ax_metric, ax_lr = fig.subplots(1, 2)
        if complete:
            medians = [median_history(runs) for runs in complete.values()]
            plot_fit_histories(medians, self.metric.value, ax=ax_metric)
            plot_effective_lrs([runs[0] for runs in complete.values()], ax=ax_lr, suggestions=self.suggestions)
            ax_lr.set_title("step size taken (first seed)")
        else:
            _nothing_cached(ax_metric, ax_lr)
        self._show(fig)


class PlateauPanel(_TrialPanel):
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
                                      W.VBox([self.train_button, self.clear_button])]), self.status, self.out])
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
        self.redraw()

    def redraw(self) -> None:
        from .plots import plot_lr_per_epoch

        runs = self.references + self.trials
        fig = Figure(figsize=(12, 3.8))
        fig.subplots_adjust(left=0.07, right=0.97, bottom=0.14, top=0.92, wspace=0.25)
        ax_lr, ax_loss = fig.subplots(1, 2)
        plot_lr_per_epoch(runs, ax=ax_lr)
        plot_fit_histories(runs, "valid_loss", ax=ax_loss)
        self._show(fig)
