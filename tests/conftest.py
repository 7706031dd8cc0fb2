from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw off screen


@pytest.fixture
def workdir(tmp_path):
    """Where fastai may write (models/ and the like): a temporary folder, never the repository."""
    return tmp_path / "work"
