"""The panel over the recipe's grid in the result cache (lesson 10): choose lr_max, weight decay and batch
size; see the early validation loss and the final result side by side."""
from __future__ import annotations

from typing import Callable, Sequence

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

from lrkit.runs.recipe import recipe_condition
from lrkit.runs.training import FitResult
from lrkit.show.panel_base import Panel, nothing_cached
from lrkit.show.recipe_plots import plot_grid_early_vs_final

__all__ = ["RecipePanel"]


class RecipePanel(Panel):
    """Left: the chosen cell's validation loss per epoch (median over seeds, seeds faint), the other
    weight decays at the same LR and batch size in grey, the early epoch marked. Right: every cell in
    the cache, its early validation loss against its final accuracy (a colour per LR and batch size, the
    lesson's ``colors[(lr, batch size)]`` where given, a shape per weight decay), the chosen one in red.

    Drawn from the result cache at once; *Compute missing* trains the chosen cell's missing seeds with
    ``train(seed=..., label=..., lr=..., wd=..., bs=...)``, the function the lesson's grid ran under the same
    ``cache_key``."""

    def __init__(self, train: Callable[..., FitResult], seeds: Sequence[int], *, lrs: Sequence[float],
                 wds: Sequence[float], batch_sizes: Sequence[int], early_epoch: int, cache_key: dict,
                 value: tuple[float, float, int] | None = None, cache=None,
                 colors: dict[tuple[float, int], str] | None = None):
        from lrkit.core.cache import ResultCache

        super().__init__()
        for name, options in (("lrs", lrs), ("wds", wds), ("batch_sizes", batch_sizes)):
            if not options:
                raise ValueError(f"Expected at least one value in {name}, got none")
        self.train, self.seeds, self.early_epoch, self.cache_key = train, list(seeds), early_epoch, cache_key
        self.colors = dict(colors) if colors is not None else None  # (lr, batch size) -> colour; others grey
        self.cache = cache if cache is not None else ResultCache()
        lr, wd, bs = value or (lrs[0], wds[0], batch_sizes[0])
        style = {"description_width": "90px"}
        self.lr = W.SelectionSlider(options=[(f"{v:.1e}", v) for v in lrs], value=lr, description="lr_max",
                                    continuous_update=False, style=style)
        self.wd = W.SelectionSlider(options=[(f"{v:g}", v) for v in wds], value=wd, description="weight decay",
                                    continuous_update=False, style=style)
        self.bs = W.ToggleButtons(options=[(str(v), v) for v in batch_sizes], value=bs, description="batch size",
                                  style={**style, "button_width": "60px"})
        self.compute_button = W.Button(description="Compute missing", button_style="primary", icon="play",
                                       layout=W.Layout(width="180px"))
        self.compute_button.on_click(lambda _: self.compute())
        self._redraw_on(self.lr, self.wd, self.bs)
        self._cells = dict(recipe_condition(a, b, c) for c in batch_sizes for a in lrs for b in wds)
        self.widget = W.VBox([W.HBox([W.VBox([self.lr, self.wd]), W.VBox([self.bs, self.compute_button])]),
                              self.status, self.picture, self.out])
        self.redraw()

    def _chosen(self) -> tuple[str, dict]:
        return recipe_condition(self.lr.value, self.wd.value, self.bs.value)

    def compute(self) -> None:
        from lrkit.runs.compare import run_conditions

        label, settings = self._chosen()
        self.status.value = f"training the missing runs of {label}..."
        with self._busy(self.compute_button):
            try:
                with self.out:
                    run_conditions(self.train, {label: settings}, self.seeds, cache_key=self.cache_key,
                                   cache=self.cache)
            except Exception as err:
                self._error(err)
                return
        self._redraw_safely()

    def redraw(self, *_) -> None:
        from lrkit.runs.compare import cached_conditions, median_history

        found, _ = cached_conditions(self._cells, self.seeds, self.cache_key, self.cache)
        complete = {label: runs for label, runs in found.items() if len(runs) == len(self.seeds)}
        label, settings = self._chosen()
        fig = Figure(figsize=(13, 4))
        fig.subplots_adjust(left=0.06, right=0.82, bottom=0.14, top=0.9, wspace=0.25)  # the legend right of it
        ax_loss, ax_pair = fig.subplots(1, 2)
        if label in complete:
            same = {lb: runs for lb, runs in complete.items() if lb != label
                    and (self._cells[lb]["lr"], self._cells[lb]["bs"]) == (settings["lr"], settings["bs"])}
            for runs in same.values():
                m = median_history(runs)
                ax_loss.plot(np.arange(1, len(m.valid_loss) + 1), m.valid_loss, color="0.75", lw=1)
            for r in complete[label]:
                ax_loss.plot(np.arange(1, len(r.valid_loss) + 1), r.valid_loss, color="tab:red", alpha=0.25, lw=1)
            m = median_history(complete[label])
            ax_loss.plot(np.arange(1, len(m.valid_loss) + 1), m.valid_loss, "o-", color="tab:red", ms=3, lw=2)
            ax_loss.axvline(self.early_epoch, color="0.4", ls=":", lw=1)
            ax_loss.set(xlabel="epoch", ylabel="validation loss",
                        title=f"{label} (red; grey: the other weight decays)")
            early, final = m.valid_loss[self.early_epoch - 1], m.final_accuracy
            self.status.value = (f"{label}: validation loss after epoch {self.early_epoch} {early:.3f}, final accuracy "
                                 f"{final:.1%} (medians over {len(self.seeds)} seeds); {len(complete)} of "
                                 f"{len(self._cells)} cells in the cache")
        else:
            nothing_cached(ax_loss)
            self.status.value = (f"{label}: not in the cache yet, press Compute missing; {len(complete)} of "
                                 f"{len(self._cells)} cells in the cache")
        if complete:
            # a colour per LR and batch size, a shape per weight decay, as in the lesson's figure of the grid
            by_setting: dict[str, dict[float, list[FitResult]]] = {}
            colors: dict[str, str] = {}
            for lb, runs in complete.items():
                c = self._cells[lb]
                name = _setting(c)
                by_setting.setdefault(name, {})[c["wd"]] = runs
                colors.setdefault(name, self.colors.get((c["lr"], c["bs"]), "0.5") if self.colors is not None
                                  else f"C{len(colors)}")
            plot_grid_early_vs_final(by_setting, self.early_epoch, ax=ax_pair, final="accuracy",
                                     colors=list(colors.values()),
                                     highlight=(_setting(settings), settings["wd"]))
            ax_pair.set_title("every cell in the cache")
        else:
            ax_pair.set_axis_off()
        self._show(fig)


def _setting(cell: dict) -> str:
    """A cell's LR and batch size, the group it is drawn with."""
    return f"lr {cell['lr']:.2g}, batch {cell['bs']}"
