"""What a presenter shows and a reader sees: the decks curated for teaching, the saved outputs readable.

A deck is the notebook as RISE (JupyterLab) and ``make slides`` show it, cut by each cell's
``slideshow.slide_type``. On a slide: one idea, code a room can read (at most ``MAX_CODE_LINES``
lines, else the input is collapsed: ``jupyter.source_hidden`` for JupyterLab and RISE, the
``hide-input`` tag for ``make slides``), no setup or check cell, and speaker notes (a ``notes``
cell) under every main slide. Saved outputs: nothing empty, tables at three significant digits.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_CODE_LINES = 15
HIDE_INPUT = "hide-input"  # scripts/slides.sh removes these inputs from the static decks
SIG_DIGITS = 3


def _cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


def _slide_type(cell: dict) -> str:
    return cell["metadata"].get("slideshow", {}).get("slide_type", "-")


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _collapsed(cell: dict) -> bool:
    return cell["metadata"].get("jupyter", {}).get("source_hidden", False) is True


def _slides(cells: list[dict]) -> list[list[dict]]:
    """The cells of each main slide (a ``slide`` cell and what follows it up to the next one),
    skipped cells left out."""
    slides = []
    for cell in cells:
        if _slide_type(cell) == "skip":
            continue
        if _slide_type(cell) == "slide" or not slides:
            slides.append([])
        slides[-1].append(cell)
    return slides


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_and_check_cells_run_but_are_not_shown(notebook):
    code = [c for c in _cells(notebook) if c["cell_type"] == "code"]
    assert _slide_type(code[0]) == "skip", f"{notebook.name}: the setup cell (the first code cell) shows on a slide"
    assert _slide_type(code[-1]) == "skip", f"{notebook.name}: the check cell (the last code cell) shows on a slide"
    # the browser test reads the run's end from the last cell's count, which a collapsed input hides
    assert not _collapsed(code[-1]), f"{notebook.name}: the check cell's input is collapsed"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_code_on_a_slide_is_short_or_collapsed(notebook):
    long = []
    for i, cell in enumerate(_cells(notebook)):
        if cell["cell_type"] != "code" or _slide_type(cell) == "skip":
            continue
        lines = len(_source(cell).splitlines())
        hidden = _collapsed(cell), HIDE_INPUT in cell["metadata"].get("tags", [])
        assert hidden[0] == hidden[1], (f"{notebook.name} cell {i}: collapsed in JupyterLab and hidden in the static "
                                        f"deck go together (jupyter.source_hidden and the {HIDE_INPUT!r} tag)")
        if lines > MAX_CODE_LINES and not hidden[0]:
            long.append((i, lines))
    assert not long, (f"{notebook.name}: code cells on slides over {MAX_CODE_LINES} lines (cell, lines): {long}. "
                      f"Move the code into lrkit behind a named call, or collapse it (jupyter.source_hidden and "
                      f"the {HIDE_INPUT!r} tag)")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_main_slide_has_speaker_notes(notebook):
    bare = []
    for slide in _slides(_cells(notebook)):
        notes = [c for c in slide if _slide_type(c) == "notes"]
        if not notes or not all(c["cell_type"] == "markdown" and _source(c).strip() for c in notes):
            bare.append(_source(slide[0]).splitlines()[0][:60])
        elif not re.search(r"\bminutes?\b", " ".join(_source(c) for c in notes)):
            bare.append(_source(slide[0]).splitlines()[0][:60] + " (no expected time)")
    assert not bare, f"{notebook.name}: main slides without speaker notes (a markdown `notes` cell): {bare}"


def _outputs(notebook: Path):
    for i, cell in enumerate(_cells(notebook)):
        for out in cell.get("outputs", []):
            yield i, out


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_saved_output_is_empty(notebook):
    empty = []
    for i, out in _outputs(notebook):
        if out["output_type"] == "stream":
            text = "".join(out["text"])
        elif out["output_type"] in ("display_data", "execute_result"):
            data = out["data"]
            if any(k.startswith(("image/", "application/")) for k in data):
                continue
            text = "".join(data.get("text/html", data.get("text/plain", "")))
            text = re.sub(r"<[^>]+>", "", text) if "text/html" in data else text
        else:
            continue
        if not text.strip():
            empty.append(i)
    assert not empty, f"{notebook.name}: cells with an empty output saved: {empty}"


def significant_digits(number: str) -> int:
    """Significant digits as written: ``0.0123`` 3, ``84.56`` 4, ``1.2e-03`` 2; integers count none
    (epochs, seeds and counts are exact)."""
    mantissa = number.lower().split("e")[0].lstrip("+-")
    if "." not in mantissa:
        return 0
    return len(mantissa.replace(".", "").lstrip("0")) or 1


def _table_numbers(html: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html, flags=re.S)
    return [m for c in cells for m in re.findall(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+", c)]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_tables_show_three_significant_digits(notebook):
    long = []
    for i, out in _outputs(notebook):
        html = "".join(out.get("data", {}).get("text/html", ""))
        if "<table" in html and "progress" not in html:  # fastai's own per-epoch table is fastai's format
            long += [(i, n) for n in _table_numbers(html) if significant_digits(n) > SIG_DIGITS]
    assert not long, f"{notebook.name}: table numbers with more than {SIG_DIGITS} significant digits (cell, number): {long[:8]}"


def test_the_digit_rule():
    assert [significant_digits(n) for n in ("0.0123", "84.56", "1.2e-03", "64", "0.5", "100.0")] == [3, 4, 2, 0, 1, 4]
    assert _table_numbers("<tr><td>0.912345</td><td>3</td><td>1.2e-03</td></tr>") == ["0.912345", "1.2e-03"]


@pytest.mark.parametrize("name", ["00_setup_check.ipynb", "01_lr_range_test.ipynb"])
def test_a_training_run_saves_fastais_table_of_epochs(name):
    notebook = next(n for n in NOTEBOOKS if n.name == name)
    tables = ["".join(out["data"]["text/html"]) for _, out in _outputs(notebook)
              if "text/html" in out.get("data", {}) and "train_loss" in "".join(out["data"]["text/html"])]
    assert tables and all("<table" in t and "valid_loss" in t and "accuracy" in t for t in tables), (
        f"{name}: fastai's per-epoch table is not in the saved outputs")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_panel_saves_its_last_picture(notebook):
    """A panel's picture is an ipywidgets Image; the saved widget state keeps its PNG, so the panel
    shows without a kernel (JupyterLab, nbviewer, the static decks)."""
    nb = json.loads(notebook.read_text())
    views = [out["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] for _, out in _outputs(notebook)
             if "application/vnd.jupyter.widget-view+json" in out.get("data", {})]
    if not views:
        pytest.skip(f"{notebook.name} has no panel")
    state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})

    def images(model_id: str, seen=()) -> bool:
        model = state.get(model_id)
        if model is None or model_id in seen:
            return False
        if model["model_name"] == "ImageModel":
            png = [b for b in model.get("buffers", []) if b.get("path") == ["value"]]
            return bool(png) and base64.b64decode(png[0]["data"]).startswith(b"\x89PNG")
        children = model["state"].get("children", [])
        return any(images(c.removeprefix("IPY_MODEL_"), (*seen, model_id)) for c in children)

    missing = [v for v in views if not images(v)]
    assert not missing, f"{notebook.name}: panels saved without their picture: {missing}"
