"""lrkit.readable: tables at three significant digits, whatever the scale of the numbers."""
import math

import pandas as pd
import pytest

from lrkit import readable


def test_numbers_keep_three_significant_digits_and_integers_stay_exact():
    table = pd.DataFrame({"lr": [0.0031622, 1.2e-5], "accuracy": [0.91234, math.nan], "seeds": [5, 4],
                          "ratio": [208.93, 3.0]}, index=["a", "b"])
    shown = readable(table)
    assert shown.loc["a"].tolist() == ["0.00316", "0.912", 5, "209"]
    assert shown.loc["b"].tolist() == ["1.2e-05", "", 4, "3"]
    assert readable(table, digits=2).loc["a", "accuracy"] == "0.91"
    assert table.loc["a", "lr"] == 0.0031622  # the table given is left as it was


@pytest.mark.parametrize("bad, match", [(([1, 2],), "DataFrame"), ((pd.DataFrame({"x": [1.0]}), 0), "significant")])
def test_bad_input_says_what_was_expected(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        readable(*bad)
