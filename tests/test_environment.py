"""The pip route (requirements.txt) and the conda route (environment.yml) ask for the same pins."""
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = PIN.match(line)
        assert m, f"expected an exact pin like name==1.2.3, got {line!r}"
        pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_conda_pip_section_pins_the_same_packages_and_versions():
    pip_pins = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert _pins(pip_section) == pip_pins
    assert {"torch", "torchvision", "fastai", "jupyterlab", "ipywidgets", "matplotlib", "nbval"} <= set(pip_pins)


def test_conda_python_matches_the_running_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python == f"python={sys.version_info.major}.{sys.version_info.minor}"


def test_assets_are_hash_pinned():
    lines = [l for l in (ROOT / "lrkit" / "core" / "requirements-assets.txt").read_text().splitlines() if l and not l.startswith("#")]
    assert lines and all(re.search(r"==\S+ --hash=sha256:[0-9a-f]{64}$", l) for l in lines)
