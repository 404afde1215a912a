"""The package boundary: engine/ never imports Qt, pyqtgraph or the GUI; views never import torch.

Reads every source file with ast (nothing is imported), so a lazy import inside a function
or an ``importlib.import_module("PySide6")`` is caught as well as a top-level one.
(CI also runs import-linter with the same contracts from pyproject.toml.)
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = [  # (folder, forbidden top-level packages)
    ("engine", {"PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "visualizer"}),
    ("visualizer/views", {"torch"}),
]


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, the file of ``module``."""
    out = []
    package = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level] if node.level else []  # resolve relative imports
            if node.module:
                out.append((node.lineno, ".".join(base + [node.module])))
            else:  # "from .. import x": x is a module
                out += [(node.lineno, ".".join(base + [alias.name])) for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) in ("__import__", "import_module"))):
            out.append((node.lineno, node.args[0].value))
    return out


def violations(folder: str, forbidden: set[str]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT)
        module = ".".join(rel.with_suffix("").parts)
        for line, name in imported_modules(path.read_text(encoding="utf-8"), module):
            if name.split(".")[0] in forbidden:
                found.append(f"{rel}:{line} imports {name}")
    return found


@pytest.mark.parametrize("folder, forbidden", RULES, ids=[r[0] for r in RULES])
def test_boundary_is_not_crossed(folder, forbidden):
    if not (ROOT / folder).is_dir():
        pytest.skip(f"{folder} does not exist yet")
    assert any((ROOT / folder).rglob("*.py")), f"no sources under {folder}"
    assert violations(folder, forbidden) == []


def test_the_scanner_sees_every_form_of_import():
    source = """
import os, PySide6.QtCore
from pyqtgraph import PlotWidget
def later():
    import torch.nn as nn
    from .. import visualizer
    importlib.import_module("PySide6.QtWidgets")
    __import__("pyqtgraph")
"""
    names = [n for _, n in imported_modules(source, "engine.graph.x")]
    assert sorted(names) == sorted(["os", "PySide6.QtCore", "pyqtgraph", "torch.nn", "engine.visualizer",
                                    "PySide6.QtWidgets", "pyqtgraph"])
    assert imported_modules("from .shapes import analyse", "engine.graph.compile") == [(1, "engine.graph.shapes")]


def test_a_forbidden_import_is_reported_with_file_and_line(tmp_path, monkeypatch):
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "bad.py").write_text("import numpy\n\nfrom PySide6 import QtCore\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("engine", RULES[0][1]) == ["engine/bad.py:3 imports PySide6"]
