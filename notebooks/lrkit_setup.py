"""Gets a Jupyter kernel ready for the lrkit lessons; the first cell of every notebook calls ``ensure()``.

Standard library only, because it runs before lrkit is installed. In a kernel that has the kit
and what the lessons need, it does nothing. Otherwise:

- on a hosted notebook service (Google Colab, Kaggle), or anywhere with ``LRKIT_AUTO_INSTALL=1``,
  it installs the kit into this kernel with pip and goes on;
- anywhere else it stops with the one command to run.

It never leaves a half-installed kernel silently: if pip fails, or changes a package this kernel
had already imported, it stops and says what to do.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

__all__ = ["ensure", "missing", "hosted_service", "install_command"]

# the modules the lessons import; all must be importable
NEEDED = ("lrkit", "fastai", "torch", "ipywidgets", "matplotlib", "sklearn", "scipy")
# an environment variable each service sets in its kernels
HOSTED = {"COLAB_RELEASE_TAG": "Google Colab", "KAGGLE_KERNEL_RUN_TYPE": "Kaggle"}


def missing() -> list[str]:
    """The modules the lessons need that this kernel cannot import."""
    importlib.invalidate_caches()
    return [m for m in NEEDED if importlib.util.find_spec(m) is None]


def hosted_service() -> str | None:
    """The hosted notebook service this kernel runs on (or the opt-in), else None."""
    if os.environ.get("LRKIT_AUTO_INSTALL") == "1":
        return "LRKIT_AUTO_INSTALL=1"
    return next((name for var, name in HOSTED.items() if var in os.environ), None)


def _source() -> str | None:
    """What to install: ``$LRKIT_SOURCE`` (a git URL or a folder), else the checkout holding this file."""
    if os.environ.get("LRKIT_SOURCE"):
        return os.environ["LRKIT_SOURCE"]
    root = Path(__file__).resolve().parent.parent
    project = root / "pyproject.toml"
    if project.is_file() and 'name = "lrkit"' in project.read_text():
        return str(root)
    return None


def install_command() -> list[str]:
    """``python -m pip install <lrkit>[lessons]`` for the Python running this kernel."""
    source = _source()
    if source is None:
        raise SystemExit("lrkit_setup.py is not inside an lrkit checkout: clone the lrkit repository and open "
                         "the notebooks from its notebooks/ folder, or set LRKIT_SOURCE to its git URL.")
    requirement = f"lrkit[lessons] @ {source}" if "://" in source else f"{source}[lessons]"
    return [sys.executable, "-m", "pip", "install", requirement]


def _loaded_versions() -> dict[str, str | None]:
    """Versions of the distributions whose modules this kernel has imported already."""
    owners = importlib.metadata.packages_distributions()
    loaded = {name.partition(".")[0] for name in list(sys.modules)}
    return {dist: _version_or_none(dist) for module in loaded & owners.keys() for dist in owners[module]}


def _pip(cmd: list[str]) -> tuple[int, list[str]]:
    """Run pip, showing its output in the cell as it comes; return the exit code and the last lines."""
    tail: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
            tail = (tail + [line.rstrip()])[-30:]
    return proc.returncode, tail


def ensure() -> None:
    """Make sure this kernel can run the lessons (see the module's docstring)."""
    gone = missing()
    if not gone:
        return
    cmd = install_command()
    service = hosted_service()
    if service is None:
        raise SystemExit(
            f"This kernel ({sys.executable}) lacks {', '.join(gone)}. Install the kit into it once, from a "
            f"terminal:\n    {shlex.join(cmd)}\nthen restart the kernel and run this cell again.")
    print(f"lrkit setup ({service}): installing the kit into this kernel, a few minutes the first time:\n"
          f"    {shlex.join(cmd)}", flush=True)
    before = _loaded_versions()
    code, tail = _pip(cmd)
    if code != 0:
        raise SystemExit(f"pip failed (exit {code}):\n" + "\n".join(tail) +
                         "\nlrkit was not imported; fix the cause above and run this cell again.")
    changed = sorted(d for d, v in before.items() if _version_or_none(d) != v)
    still = missing()
    if changed or still:
        why = (f"pip changed {', '.join(changed)}, which this kernel had already imported" if changed
               else f"{', '.join(still)} still cannot be imported")
        raise SystemExit(f"The kit is installed, but {why}: restart the kernel (on Colab: Runtime > Restart "
                         "session), then run this cell again.")
    print("lrkit setup: done", flush=True)


def _version_or_none(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
