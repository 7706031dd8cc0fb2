"""Shared by the unit tests and nbval: keep every cache out of $HOME and the repository, make nbval
compute every result afresh (an empty result cache), and say which tests pytest-xdist must keep
together (``make test`` runs them in two processes side by side)."""
from __future__ import annotations

import os
import re
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
    config._lrkit_tree = _tree(ROOT)
    if hasattr(config, "workerinput"):
        return  # a pytest-xdist worker: it inherited all of this from the controller, which set it first
    # Set before any kernel starts, so nbval's kernels inherit them too.
    scratch = Path(tempfile.mkdtemp(prefix="lrkit-test-home-"))
    for var in ("FASTAI_HOME", "TORCH_HOME", "MPLCONFIGDIR", "LRKIT_CACHE"):
        os.environ[var] = str(scratch / var.lower())
    # nbval's kernels start in notebooks/: let them import this checkout's lrkit
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    # One torch thread per process (kernels included): the tests run in two processes side by side,
    # and on this kit's small models a second thread bought 0-25% of wall time for twice the CPU time.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def xdist_group(nodeid: str) -> str:
    """What one test process must run together, in order: a notebook's cells (nbval: one kernel), then
    the test whose id names that notebook (the browser test, which loads what nbval computed);
    otherwise a test module (its tests share module fixtures)."""
    path, _, rest = nodeid.partition("::")
    if path.endswith(".ipynb"):
        return Path(path).stem
    notebook = re.search(r"\[(\w+)\.ipynb\]$", rest)
    return notebook.group(1) if notebook else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's controller (make test runs two workers) hands out the groups of xdist_group: each
    to one worker, whole, as a worker runs out of work."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

    return GroupScheduling(config, log)


def pytest_sessionfinish(session, exitstatus):
    added = sorted(_tree(ROOT) - session.config._lrkit_tree)
    if added:
        session.config._lrkit_added = added
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    dry = sorted((r.nodeid.rpartition("[")[2].rstrip("]"), dict(r.user_properties)["uncapped_examples"])
                 for r in terminalreporter.stats.get("passed", [])
                 if r.when == "call" and "uncapped_examples" in dict(r.user_properties))
    if dry:  # tests/test_gpu_dry_run.py: what the uncapped gpu profile would train on, per notebook
        terminalreporter.write_sep("-", "gpu profile dry run: training examples the uncapped run would process")
        for notebook, examples in dry:
            terminalreporter.write_line(f"{notebook:45} {examples:>14,}")
    added = getattr(config, "_lrkit_added", None)
    if added:
        terminalreporter.write_line(
            "FAILED: the test run wrote into the repository: " + ", ".join(added[:20]), red=True)
