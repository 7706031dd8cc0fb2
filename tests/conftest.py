from __future__ import annotations

import bare_venv  # tests/bare_venv.py
import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw off screen


@pytest.fixture
def workdir(tmp_path):
    """Where fastai may write (models/ and the like): a temporary folder, never the repository."""
    return tmp_path / "work"


def _worker(config) -> bool:
    return hasattr(config, "workerinput")  # a pytest-xdist worker (the controller and plain runs have none)


def pytest_configure(config):
    if not _worker(config):
        bare_venv.prepare()  # before xdist starts its workers: they inherit the folder's name


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """The controller: start the bare venv's pip install as soon as a worker has collected its test."""
    if not node.config.option.collectonly and any(i.startswith(bare_venv.MODULE) for i in ids):
        bare_venv.start()


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist the bare-kernel tests come first: their worker waits for the pip install,
    which then gets the core that worker leaves, and the longest test does not come last, when the
    other worker has run out of work. (A plain run keeps them in place, to let the install run
    behind the tests before them.)"""
    if _worker(config):
        items.sort(key=lambda item: not item.nodeid.startswith(bare_venv.MODULE))  # stable: nothing else moves


def pytest_collection_finish(session):
    """A plain run: start the bare venv's pip install now, in the background, when its test will run."""
    if not _worker(session.config) and not session.config.option.collectonly and any(
            item.nodeid.startswith(bare_venv.MODULE) for item in session.items):
        bare_venv.start()


def pytest_sessionfinish(session):
    if not _worker(session.config):
        bare_venv.stop()
