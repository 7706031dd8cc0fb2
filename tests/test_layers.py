"""The package's layers and its public face.

Layers, bottom to top: core (where things live, what is set up), methods (what the kit teaches),
runs (how runs are made and compared), show (what a learner sees), then the command line and the
package's own face. A module may import from its own layer and those below, never from above.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import lrkit

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lrkit"
LAYERS = ("core", "methods", "runs", "show")
TOP = len(LAYERS)  # lrkit/__init__.py, __main__.py, cli.py


def _layer(module: str) -> int:
    """The rank of ``lrkit.<layer>.<...>``; the modules directly in lrkit/ are on top."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) >= 2 and parts[1] in LAYERS else TOP


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def _lrkit_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of lrkit in the file, at any depth (also inside functions)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = _module_name(path).split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            elif node.module and node.module.split(".")[0] == "lrkit":
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "lrkit"]
    return found


def _violations() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = _module_name(path)
        for line, target in _lrkit_imports(path):
            if _layer(target) > _layer(here):
                bad.append(f"{path.relative_to(ROOT)}:{line} ({here}, layer {_layer(here)}) imports {target} "
                           f"(layer {_layer(target)})")
    return bad


def test_no_module_imports_from_a_layer_above_its_own():
    assert _violations() == []


def test_the_layer_rule_catches_an_upward_import(tmp_path, monkeypatch):
    """The check itself: a core module that imports from show is reported."""
    fake = tmp_path / "lrkit"
    (fake / "core").mkdir(parents=True)
    (fake / "core" / "bad.py").write_text("def f():\n    from lrkit.show.report import environment_report\n")
    (fake / "core" / "fine.py").write_text("from lrkit.core.cache import ResultCache\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert _violations() == ["lrkit/core/bad.py:2 (lrkit.core.bad, layer 0) imports lrkit.show.report (layer 3)"]


def test_every_layer_is_a_subpackage_with_modules():
    for layer in LAYERS:
        assert (PACKAGE / layer / "__init__.py").is_file()
        assert len(list((PACKAGE / layer).glob("*.py"))) >= 2


def test_every_public_name_resolves_to_what_its_module_defines():
    import importlib

    for name in lrkit.__all__:
        if name == "__version__":
            continue
        module = importlib.import_module(lrkit._FACE[name])
        assert name in module.__all__, f"{name} is in lrkit's face but not in {module.__name__}.__all__"
        assert getattr(lrkit, name) is getattr(module, name)


def test_an_unknown_name_says_where_the_public_names_are():
    with pytest.raises(AttributeError, match="lrkit.__all__"):
        lrkit.no_such_thing  # noqa: B018


def test_import_lrkit_loads_nothing_heavy():
    """``import lrkit`` stays instant: no torch, fastai or matplotlib until a name is used."""
    code = ("import sys, lrkit; heavy = [m for m in ('torch', 'fastai', 'matplotlib', 'ipywidgets') if m in sys.modules]; "
            "print(','.join(heavy)); lrkit.SweepSpec; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out == ["True"]  # nothing heavy at import; the first name used loads its module


def test_the_lessons_import_only_from_the_public_face():
    import json
    import re

    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code":
                src = "".join(cell["source"])
                deep = re.findall(r"^\s*(?:from|import) lrkit\.\w+.*$", src, re.M)
                assert not deep, f"{nb.name} imports from inside lrkit: {deep}"
