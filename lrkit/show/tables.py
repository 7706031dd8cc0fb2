"""Tables a room can read: numbers at a few significant digits, whatever their scale."""
from __future__ import annotations

import math
from numbers import Integral, Real

import pandas as pd

__all__ = ["readable"]


def readable(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """``table`` with every non-integer number written at ``digits`` significant digits (an LR as
    ``0.00316``, an accuracy as ``0.912``, a ratio as ``208``), integers as they are, missing values
    blank. ``DataFrame.round`` counts decimals, too many for a loss and too few for an LR."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"Expected a pandas DataFrame, got {type(table).__name__}")
    if not isinstance(digits, int) or not 1 <= digits <= 6:
        raise ValueError(f"Expected 1 to 6 significant digits, got {digits!r}")

    def write(value):
        if isinstance(value, Integral) or not isinstance(value, Real):  # bools are Integral too
            return value
        if math.isnan(value):
            return ""
        if float(value).is_integer() and abs(value) < 10 ** digits:
            return f"{int(value)}"
        return f"{value:.{digits}g}"

    return table.map(write)
