"""What the widget panels share: a status line, an output area, errors shown in the panel, buttons
disabled while training. Controls that only change the picture redraw from the stored result;
controls that need training act behind a button."""
from __future__ import annotations

import base64
import html
import io
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import ipywidgets as W
from IPython.display import display
from matplotlib.figure import Figure

from lrkit.runs.training import FitResult

__all__ = ["Panel", "TrialPanel", "nothing_cached"]


def nothing_cached(*axes) -> None:
    """An empty picture that says what to do, for a choice the result cache does not hold yet."""
    for ax in axes:
        ax.set_axis_off()
    axes[0].text(0.5, 0.5, "Nothing in the cache for this choice yet:\npress Compute missing",
                 ha="center", va="center", fontsize=13, transform=axes[0].transAxes)


class Panel:
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


class TrialPanel(Panel):
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
