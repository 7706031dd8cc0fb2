"""What the lessons' prose may say: no measured number typed into markdown.

A number a run measures is printed by the run (with its statistic over seeds and a verdict), never
typed into prose: prose is read on every profile, and a number from one run is wrong on another.
The prose may hold settings and definitions: those are written as code (in backticks, e.g.
`lr=1e-3`, `factor=0.1`), as in the cell that sets them; in plain text only what is named below.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# a decimal (0.98, .5, 1.1), a power of ten (1e-3), or a percentage (10%, 2.5%)
NUMBER = re.compile(r"(?<![\w.])(?:\d*\.\d+(?:e-?\d+)?|\d+e-?\d+|\d+(?:\.\d+)?\s?%)(?![\w])")
CODE = re.compile(r"`[^`]*`")
# numbers plain prose may hold, by name: none of them is measured
ALLOWED_IN_PROSE = {
    "arXiv identifier": re.compile(r"arXiv \d{4}\.\d{4,5}"),
    "a paper's section or version": re.compile(r"\bv\d+(?:\.\d+)*\b"),
}


def _prose_numbers(markdown: str) -> list[str]:
    text = CODE.sub(" ", markdown)
    for pattern in ALLOWED_IN_PROSE.values():
        text = pattern.sub(" ", text)
    text = re.sub(r"\(https?://[^)]*\)", " ", text)  # link targets
    return NUMBER.findall(text)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_quotes_no_measured_number(notebook):
    found = []
    for i, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        if cell["cell_type"] == "markdown":
            found += [(i, n) for n in _prose_numbers("".join(cell["source"]))]
    assert not found, (f"{notebook.name}: numbers in prose (cell, number): {found}. Print a measured number "
                       "from the run; write a setting as code, in backticks.")


def test_the_rule_finds_decimals_and_percentages_and_spares_code_and_references():
    assert _prose_numbers("accuracy rose by 2.3 points, 10% of runs, lr 1e-3") == ["2.3", "10%", "1e-3"]
    assert _prose_numbers("Smith (arXiv 1803.09820) sets `lr_max=1e-2` and `div=25.0`") == []
    assert _prose_numbers("3 epochs, batch size 64") == []  # counts a lesson chooses, not measurements
