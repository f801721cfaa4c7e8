"""Layering: lower modules never import higher ones (read from the source, nothing is run)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "faceveil"


def _imports(path: Path) -> set[str]:
    """Every faceveil module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m == "faceveil" or m.startswith("faceveil.")}


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("faces.py", {"faceveil.errors"}),
        ("align.py", {"faceveil.detect", "faceveil.faces"}),
        ("models/sface_torch.py", {"faceveil.models.weights"}),
    ],
)
def test_leaf_modules_import_only_what_they_may(module, allowed):
    assert _imports(SRC / module) <= allowed


# Above the server: the CLI starts it, the test harness runs it. batch/studio.py is the
# studio's Dask backend, server code that still lives in batch/.
ABOVE_SERVER = {"cli/serve.py", "testing/studio.py", "batch/studio.py"}


def test_library_never_imports_the_server():
    offenders = [
        rel
        for p in SRC.rglob("*.py")
        if (rel := p.relative_to(SRC).as_posix()) not in ABOVE_SERVER
        and not rel.startswith("server/")
        and any(m.startswith("faceveil.server") for m in _imports(p))
    ]
    assert offenders == []

