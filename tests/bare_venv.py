"""The bare venv of tests/test_bare_kernel.py: a fresh venv with only ``pip install <checkout>[lessons]``,
registered as a Jupyter kernel, built in the background from the start of the test run.

Its folder is chosen by the run's first process (``prepare``) and exported in ``LRKIT_BARE_BUILD``, so that
pytest-xdist's workers, started after it, know where to look. The build is started once (by the
controller as soon as a worker has collected the test, or by a plain run after collection); a marker
file says it started and another holds pip's exit code, so any process of the run can wait for it.

The dependencies come from a template kept between runs (``$LRKIT_HOME/bare-venv-<key>``, keyed by
the dependencies the checkout declares and the Python version): the same ``pip install`` made once,
with lrkit uninstalled again. A run copies it with hard links (seconds, where unpacking torch took
about two minutes) and runs the pip install into the copy, which finds every dependency satisfied
and installs the checkout; a change of the declared dependencies builds a new template.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
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


def _template() -> Path:
    """Where the template for this checkout's declared dependencies lives (see the module's docstring)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [project.get("dependencies", []), project.get("optional-dependencies", {}).get("lessons", []),
                list(sys.version_info[:2])]
    key = hashlib.sha256(repr(declared).encode()).hexdigest()[:16]
    home = Path(os.environ.get("LRKIT_HOME") or Path.home() / ".cache" / "lrkit")
    return home / f"bare-venv-{key}"


def _build_command(tmp: Path) -> list[str]:
    """The checkout copied (pip builds in the source folder: not in this repository), the template
    made if missing, copied, the pip install into the copy, the copy registered as a kernel; the exit
    code written last."""
    src, venv, template = tmp / "lrkit", tmp / "venv", _template()
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "__pycache__", "build", "*.egg-info",
                                                             ".ipynb_checkpoints"))
    q = lambda *args: shlex.join(map(str, args))  # noqa: E731
    pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", f"{src}[lessons]"]
    tpy, py = template / "bin" / "python", venv / "bin" / "python"
    done = template / ".lrkit-complete"
    # --no-compile, then compileall once: the kernels of every later run load bytecode, not sources.
    # Its status is ignored: a few packages ship files that are not Python 3 (templates, tests).
    make_template = " && ".join([
        q("rm", "-rf", template), q(sys.executable, "-m", "venv", template), q(tpy, *pip),
        q(tpy, "-m", "pip", "uninstall", "--quiet", "--yes", "lrkit"),
        q(tpy, "-m", "compileall", "-q", "-j", "0", template / "lib") + " >/dev/null 2>&1 || true", q("touch", done)])
    script = " && ".join([
        # one build of a template at a time (two runs at once wait for each other), released before the copy
        f"( flock 9 && {{ [ -f {shlex.quote(str(done))} ] || {{ {make_template}; }}; }} ) 9>{shlex.quote(str(template))}.lock",
        q("cp", "-al", template, venv), q("rm", venv / done.name),  # hard links: a file pip replaces is unlinked first
        q(py, *pip), q(py, "-m", "ipykernel", "install", "--prefix", tmp / "jupyter", "--name", KERNEL)])
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
