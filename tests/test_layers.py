"""Layering: lower modules never import higher ones (read from the source; import-linter's
contracts in pyproject.toml; one check imports the package)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "faceveil"


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
        (
            "restore/cues.py",
            {"faceveil.align", "faceveil.faces", "faceveil.io.images"}
            | {"faceveil.restore.occlusions"},
        ),
    ],
)
def test_leaf_modules_import_only_what_they_may(module, allowed):
    assert _imports(SRC / module) <= allowed


# Above the server: the CLI starts it, the test harness runs it.
ABOVE_SERVER = {"cli/serve.py", "testing/studio.py"}


def test_library_never_imports_the_server():
    offenders = [
        rel
        for p in SRC.rglob("*.py")
        if (rel := p.relative_to(SRC).as_posix()) not in ABOVE_SERVER
        and not rel.startswith("server/")
        and any(m.startswith("faceveil.server") for m in _imports(p))
    ]
    assert offenders == []


def test_import_contracts_hold():
    """lint-imports, as `make test` runs it: the forbidden and the layers contract."""
    code = "import sys, importlinter.cli as c; sys.exit(c.lint_imports(no_cache=True))"
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_forbidden_contract_names_every_library_module():
    """A new subpackage or top-level module is below the server unless listed above it."""
    from importlinter.api import read_configuration

    contracts = read_configuration(str(ROOT / "pyproject.toml"))["contracts_options"]
    (forbidden,) = [c for c in contracts if c["type"] == "forbidden"]
    children = {p.stem for p in SRC.glob("*.py") if p.name != "__init__.py"}
    children |= {p.parent.name for p in SRC.glob("*/__init__.py")}
    library = {f"faceveil.{name}" for name in children - {"cli", "testing", "server"}}
    assert set(forbidden["source_modules"]) == library
    assert forbidden["forbidden_modules"] == ["faceveil.server"]


def test_importing_the_library_loads_no_server():
    code = (
        "import sys, faceveil; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'sqlalchemy')"
        " or m.startswith('faceveil.server')))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert run.stdout.strip() == "[]"
