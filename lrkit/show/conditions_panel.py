"""The panel over a comparison of training conditions in the result cache (lesson 08)."""
from __future__ import annotations

from typing import Callable, Sequence

import ipywidgets as W
from matplotlib.figure import Figure

from lrkit.show.training_plots import plot_fit_histories
from lrkit.runs.training import FitResult
from lrkit.show.panel_base import Panel, nothing_cached

__all__ = ["ConditionsPanel"]


class ConditionsPanel(Panel):
    """Optimizers and schedules side by side: the chosen conditions are drawn from the result cache
    at once (medians over seeds); *Compute missing* trains only what the cache lacks.

    ``conditions`` and ``cache_key`` are those given to :func:`lrkit.runs.compare.run_conditions`, whose
    ``train(seed=..., label=..., **kwargs)`` trains one run; ``colors`` maps a condition to its colour,
    the lesson's, in both plots (by default matplotlib's cycle, in the order of ``conditions``)."""

    def __init__(self, conditions: dict[str, dict], train: Callable[..., FitResult], seeds: Sequence[int], *,
                 cache_key: dict, cache=None, chosen: Sequence[str] | None = None,
                 suggestions: dict[str, float] | None = None, colors: dict[str, str] | None = None):
        from lrkit.core.cache import ResultCache

        super().__init__()
        self.conditions, self.train, self.seeds = dict(conditions), train, list(seeds)
        if colors is not None and set(colors) != set(self.conditions):
            raise ValueError(f"Expected one colour for each condition {list(self.conditions)}, got colours for "
                             f"{list(colors or {})}")
        self.colors = dict(colors) if colors is not None else {c: f"C{i}" for i, c in enumerate(self.conditions)}
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
        self._redraw_on(self.chosen, self.metric)
        self.compute_button.on_click(lambda _: self.compute())
        self.runs: dict[str, list[FitResult]] = {}
        self.widget = W.VBox([W.HBox([self.chosen, W.VBox([self.metric, self.compute_button])]),
                              self.status, self.picture, self.out])
        self.redraw()

    def _chosen(self) -> dict[str, dict]:
        return {label: self.conditions[label] for label in self.chosen.value}

    def compute(self) -> None:
        from lrkit.runs.compare import run_conditions

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
        self._redraw_safely()

    def redraw(self, *_) -> None:
        from lrkit.runs.compare import cached_conditions, median_history
        from lrkit.show.training_plots import plot_effective_lrs

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
        fig = Figure(figsize=(14, 4))
        fig.subplots_adjust(left=0.06, right=0.74, bottom=0.14, top=0.92, wspace=0.25)
        ax_metric, ax_lr = fig.subplots(1, 2)
        if complete:
            colors = [self.colors[label] for label in complete]
            medians = [median_history(runs) for runs in complete.values()]
            plot_fit_histories(medians, self.metric.value, ax=ax_metric, colors=colors)
            ax_metric.set_title(f"median of {len(self.seeds)} seeds")
            plot_effective_lrs([runs[0] for runs in complete.values()], ax=ax_lr, suggestions=self.suggestions,
                               colors=colors)
            ax_lr.set_title("step size taken (first seed)")
            # one legend beside both plots, off the data: the conditions, then the range test's lines
            handles, labels = ax_lr.get_legend_handles_labels()
            for ax in (ax_metric, ax_lr):
                ax.get_legend().remove()
            fig.legend(handles, labels, loc="center left", bbox_to_anchor=(0.75, 0.5), fontsize="small",
                       frameon=False)
        else:
            nothing_cached(ax_metric, ax_lr)
        self._show(fig)
