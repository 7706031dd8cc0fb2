import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lrkit
from lrkit import PROFILES, resolve_profile, setup

ROOT = Path(__file__).resolve().parents[1]

IMPORT_PROBE = """
import random, sys
import torch
state = random.getstate(); torch_state = torch.random.get_rng_state()
import lrkit
assert random.getstate() == state, "import touched Python's RNG"
assert torch.equal(torch.random.get_rng_state(), torch_state), "import touched torch's RNG"
# fastai draws from Python's RNG and writes matplotlib's font cache when imported,
# so the top-level package leaves it to setup() and the submodules
assert "fastai" not in sys.modules and "matplotlib" not in sys.modules
"""


def test_import_has_no_side_effects(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir(), cwd.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    for var in ("FASTAI_HOME", "TORCH_HOME", "MPLCONFIGDIR", "XDG_CACHE_HOME"):
        env.pop(var, None)
    subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=cwd, env=env, check=True)
    assert list(home.iterdir()) == [] and list(cwd.iterdir()) == []


def test_profile_from_argument_environment_and_device(monkeypatch):
    monkeypatch.delenv("LRKIT_PROFILE", raising=False)
    assert resolve_profile().name == "cpu"
    assert resolve_profile(cuda=True).name == "gpu"
    monkeypatch.setenv("LRKIT_PROFILE", "ci")
    assert resolve_profile().name == "ci" and resolve_profile(cuda=True).name == "ci"
    assert resolve_profile("gpu").name == "gpu"


def test_unknown_profile_lists_the_choices():
    with pytest.raises(ValueError, match=r"Unknown lrkit profile 'fast'; expected one of \['ci', 'cpu', 'gpu'\]"):
        resolve_profile("fast")


def test_profiles_grow_from_ci_to_gpu():
    ci, cpu, gpu = PROFILES["ci"], PROFILES["cpu"], PROFILES["gpu"]
    for field in ("n_train", "n_valid", "num_it", "epochs"):
        assert getattr(ci, field) <= getattr(cpu, field) <= getattr(gpu, field)
    assert len(ci.seeds) <= len(cpu.seeds) <= len(gpu.seeds)


def test_setup_picks_cpu_here_seeds_and_keeps_work_outside_the_repo(monkeypatch):
    monkeypatch.setenv("LRKIT_PROFILE", "ci")
    s = setup(seed=7)
    assert s.profile.name == "ci" and s.seed == 7
    assert s.device == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    a = torch.rand(3)
    setup(seed=7)
    assert torch.equal(a, torch.rand(3))
    assert s.workdir.is_dir() and ROOT not in s.workdir.parents


def test_setup_refuses_cuda_when_absent():
    if torch.cuda.is_available():
        pytest.skip("CUDA is present on this machine")
    with pytest.raises(ValueError, match="CUDA is not available"):
        setup(device="cuda")


def test_public_names():
    assert {"setup", "Profile", "PROFILES"} <= set(lrkit.__all__)
