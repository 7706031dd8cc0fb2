"""The bare venv of tests/test_bare_kernel.py: a fresh venv with only ``pip install <checkout>[lessons]``,
registered as a Jupyter kernel, built in the background from the start of the test run.

Its folder is chosen by the run's first process (``prepare``) and exported in ``LRKIT_BARE_BUILD``, so that
pytest-xdist's workers, started after it, know where to look. The build is started once (by the
controller as soon as a worker has collected the test, or by a plain run after collection); a marker
file says it started and another holds pip's exit code, so any process of the run can wait for it.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "lrkit-bare"
FOLDER_VAR = "LRKIT_BARE_BUILD"
MODULE = "tests/test_bare_kernel.py"


def folder() -> Path:
    return Path(os.environ[FOLDER_VAR])


def prepare() -> None:
    """Choose the build's folder (empty until the build starts); the run's processes inherit it."""
    os.environ[FOLDER_VAR] = tempfile.mkdtemp(prefix="lrkit-bare-")


def _build_command(tmp: Path) -> list[str]:
    """The checkout copied (pip builds in the source folder: not in this repository), a venv with only
    the pip install, the venv registered as a kernel; the exit code written last."""
    src, venv = tmp / "lrkit", tmp / "venv"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "__pycache__", "build", "*.egg-info",
                                                             ".ipynb_checkpoints"))
    py = venv / "bin" / "python"
    # --no-compile: a throwaway venv; byte-compiling all of torch up front was a third of pip's time here
    steps = [[sys.executable, "-m", "venv", venv],
             [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", f"{src}[lessons]"],
             [py, "-m", "ipykernel", "install", "--prefix", tmp / "jupyter", "--name", KERNEL]]
    script = " && ".join(shlex.join(map(str, step)) for step in steps)
    # below normal priority, so the tests running meanwhile go first, but not so low that it starves
    # while both test workers keep the cores busy
    code = shlex.quote(str(tmp / "exit-code"))  # written whole or not at all: others poll for it
    return ["nice", "-n", "10", "bash", "-c", f"( {script} ); echo $? > {code}.part && mv {code}.part {code}"]


def start() -> None:
    """Start the build in the background, unless a process of this run already did."""
    tmp = folder()
    if (tmp / "pid").exists():
        return
    with open(tmp / "build.log", "w") as log:
        proc = subprocess.Popen(_build_command(tmp), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (tmp / "pid").write_text(str(proc.pid))


def wait(timeout_s: float = 1800) -> tuple[int, str]:
    """Start the build if nobody did, wait for it; pip's exit code and the end of its log."""
    tmp = folder()
    start()
    deadline = time.monotonic() + timeout_s
    while not (tmp / "exit-code").exists():
        if time.monotonic() > deadline:
            stop()
            raise TimeoutError(f"building the bare venv took more than {timeout_s:.0f} s")
        time.sleep(1)
    return int((tmp / "exit-code").read_text()), (tmp / "build.log").read_text()[-4000:]


def stop() -> None:
    """At the end of the run: a build still going (the run was cut short) is stopped, and the folder
    removed by a process of its own (a venv with torch takes seconds to delete)."""
    tmp = folder()
    pid = tmp / "pid"
    if pid.exists() and not (tmp / "exit-code").exists():
        try:
            os.killpg(int(pid.read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.Popen(["rm", "-rf", str(tmp)], start_new_session=True)
