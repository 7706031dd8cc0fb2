"""What every plot shares: a fresh Axes when none is given, the suggestions' colours."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

__all__ = ["ax_or_new", "legend_outside", "SUGGESTION_COLORS"]


SUGGESTION_COLORS = {"valley": "tab:orange", "slide": "tab:green", "minimum": "tab:red", "steep": "tab:purple"}


def ax_or_new(ax: Axes | None) -> Axes:
    return ax if ax is not None else plt.figure().add_subplot()


def legend_outside(ax: Axes) -> None:
    """The legend right of the axes, off the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
