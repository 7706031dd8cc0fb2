"""Shared by the unit tests and nbval: keep every cache out of $HOME and the repository, and make
nbval compute every result afresh (an empty result cache)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
IGNORED = {".git", "__pycache__"}


def _tree(root: Path) -> set[str]:
    files = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in IGNORED]
        rel = Path(dirpath).relative_to(root)
        files.update(str(rel / f) for f in filenames)
        files.update(str(rel / d) + "/" for d in dirnames)
    return files


def pytest_configure(config):
    # Set before any kernel starts, so nbval's kernels inherit them too.
    scratch = Path(tempfile.mkdtemp(prefix="lrkit-test-home-"))
    for var in ("FASTAI_HOME", "TORCH_HOME", "MPLCONFIGDIR", "LRKIT_CACHE"):
        os.environ[var] = str(scratch / var.lower())
    # nbval's kernels start in notebooks/: let them import this checkout's lrkit
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    config._lrkit_tree = _tree(ROOT)


def pytest_sessionfinish(session, exitstatus):
    added = sorted(_tree(ROOT) - session.config._lrkit_tree)
    if added:
        session.config._lrkit_added = added
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    added = getattr(config, "_lrkit_added", None)
    if added:
        terminalreporter.write_line(
            "FAILED: the test run wrote into the repository: " + ", ".join(added[:20]), red=True)
