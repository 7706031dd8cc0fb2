from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw off screen


@pytest.fixture
def workdir(tmp_path):
    """Where fastai may write (models/ and the like): a temporary folder, never the repository."""
    return tmp_path / "work"


def _bare_kernel_module(session):
    modules = (getattr(item, "module", None) for item in session.items)  # notebook items have none
    return next((m for m in modules if m is not None and m.__name__.rpartition(".")[2] == "test_bare_kernel"), None)


def pytest_collection_finish(session):
    """Start the bare-kernel test's pip install now, in the background, when that test will run."""
    module = _bare_kernel_module(session)
    if module is not None and not session.config.option.collectonly:
        module.start_build_early()


def pytest_sessionfinish(session):
    module = _bare_kernel_module(session)
    if module is not None:
        module.stop_early_build()
