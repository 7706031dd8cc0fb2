"""The gpu profile, end to end on the CPU: every notebook top to bottom with the gpu profile's sizes
(full datasets, its batch sizes, seeds and epochs) and its training cut short by $LRKIT_STEP_CAP, so
every code path and data size of that profile runs once. Each test reports the training examples
the uncapped profile would process (shown at the end of the run; the README's cost table is
estimated from them).

The closing check cell is left out: it asserts effects that a capped run cannot show."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
STEP_CAP = 1
REPORT = "uncapped examples:"


def _closing_check(nb):
    """The last code cell: every lesson ends with the cell that asserts what it claims."""
    cell = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "NBVAL_CHECK_OUTPUT" in cell.metadata.get("tags", []) and "assert" in cell.source, cell.source[:300]
    return cell


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_gpu_profile_dry_run(notebook, tmp_path, record_property):
    nb = nbformat.read(notebook, as_version=4)
    check = _closing_check(nb)
    nb.cells = [c for c in nb.cells if c is not check]
    nb.cells.append(nbformat.v4.new_code_cell(
        f"from lrkit.core.dry_run import uncapped_examples, uncapped_steps\n"
        f"print({REPORT!r}, uncapped_examples(), 'steps:', uncapped_steps())"))
    env = {**os.environ, "LRKIT_PROFILE": "gpu", "LRKIT_STEP_CAP": str(STEP_CAP),
           "LRKIT_CACHE": str(tmp_path / "cache")}
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute(env=env)  # raises CellExecutionError, with the cell and its traceback, on any error

    first = _text(next(c for c in nb.cells if c.cell_type == "code"))
    assert "profile gpu" in first or "name='gpu'" in first, first  # the profile this run asked for
    last = _text(nb.cells[-1])
    found = re.search(re.escape(REPORT) + r" (\d+) steps: (\d+)", last)
    assert found and int(found.group(1)) > 0 and int(found.group(2)) > 0, last
    examples, steps = int(found.group(1)), int(found.group(2))
    record_property("uncapped_examples", examples)
    _write_report(notebook.stem, examples, steps)


def _text(cell) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def _write_report(stem: str, examples: int, steps: int) -> None:
    """$LRKIT_ARTIFACTS/gpu-dry-run/<notebook>.json: what scripts/gpu_cost.py reads."""
    from lrkit.core.assets import lrkit_home

    folder = Path(os.environ.get("LRKIT_ARTIFACTS") or lrkit_home() / "artifacts") / "gpu-dry-run"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{stem}.json.tmp"
    tmp.write_text(json.dumps({"notebook": stem, "uncapped_examples": examples, "uncapped_steps": steps,
                               "step_cap": STEP_CAP}))
    tmp.replace(folder / f"{stem}.json")
