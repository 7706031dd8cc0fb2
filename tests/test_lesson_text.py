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


def test_every_first_cell_installs_from_the_source_pyproject_names():
    """The kit names its source in one place, pyproject.toml's [project.urls] Source; a lesson opened
    on its own has only its first cell, which carries that URL as the default of $LRKIT_SOURCE."""
    import tomllib

    project = tomllib.loads((NOTEBOOKS[0].parents[1] / "pyproject.toml").read_text())["project"]
    url = project.get("urls", {}).get("Source", "")
    blocks = set()
    for notebook in NOTEBOOKS:
        first = next(c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code")
        source = "".join(first["source"])
        found = re.search(r'os\.environ\.get\("LRKIT_SOURCE", "([^"]*)"\)', source)
        assert found and found.group(1) == url, (notebook.name, found and found.group(1), url)
        blocks.add(source.split("\nimport lrkit\n")[0])
    assert len(blocks) == 1, "the setup lines differ between lessons"
