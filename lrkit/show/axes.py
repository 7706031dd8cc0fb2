"""What every plot shares: a fresh Axes when none is given, the suggestions' colours."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

__all__ = ["ax_or_new", "legend_outside", "check_colors", "SUGGESTION_COLORS"]


SUGGESTION_COLORS = {"valley": "tab:orange", "slide": "tab:green", "minimum": "tab:red", "steep": "tab:purple"}


def ax_or_new(ax: Axes | None) -> Axes:
    return ax if ax is not None else plt.figure().add_subplot()


def legend_outside(ax: Axes, **legend_kwargs) -> None:
    """The legend right of the axes, off the data; ``legend_kwargs`` go to ``ax.legend`` (handles,
    fontsize, ...)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, **legend_kwargs)


def check_colors(colors, n: int, what: str) -> None:
    """``colors`` (None, or one colour per drawn ``what``) against the ``n`` things drawn."""
    if colors is not None and len(colors) != n:
        raise ValueError(f"Expected one colour per {what} ({n}), got {len(colors)}")
