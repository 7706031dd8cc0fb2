"""What the widget panels share: a status line, an output area, errors shown in the panel, buttons
disabled while training. Controls that only change the picture redraw from the stored result;
controls that need training act behind a button."""
from __future__ import annotations

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
        self.picture = W.Image(format="png")  # the panel's figure
        self.out = W.Output()  # what a training run prints (progress bars)
        self.figure: Figure | None = None

    def _error(self, err: BaseException) -> None:
        self.status.value = f'<span style="color:#b00020"><b>{type(err).__name__}:</b> {html.escape(str(err))}</span>'

    def redraw(self, *_) -> None:
        """Draw the panel's picture from what it holds (each panel draws its own)."""
        raise NotImplementedError

    def _redraw_on(self, *controls: W.ValueWidget) -> None:
        """Redraw when any of ``controls`` changes value."""
        for control in controls:
            control.observe(self._redraw_safely, names="value")

    def _redraw_safely(self, *_) -> bool:
        """``self.redraw()``, with a failure shown in the panel (False): from a control's callback its
        traceback would only reach the kernel's log, and the picture would silently stay as it was."""
        try:
            self.redraw()
        except Exception as err:
            self._error(err)
            return False
        return True

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

        The picture is an Image widget's value, synced like the status line: set as the state of an
        Output widget, a redraw's picture was now and then lost on the page under load while the
        status line, set in the same callback, arrived (seen in the browser test). What a training
        run printed into the output area is cleared with it."""
        self.figure = fig
        png = io.BytesIO()
        fig.savefig(png, format="png")
        self.picture.value = png.getvalue()
        self.out.outputs = ()

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
        self._redraw_safely()
