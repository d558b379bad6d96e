"""The layer's architecture holds: import contracts kept (and enforced: breaking one fails), at most ten
modules side by side, no module over 400 lines, empty `__init__.py` files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common" / "python"
PACKAGE = LAYER / "alphapulse"
MAX_SIDE_BY_SIDE = 10
MAX_MODULE_LINES = 400


def lint_imports(root: Path, layer: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the project's contracts, on the package under `layer`."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(layer)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT, LAYER)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("trades/repositories.py", "from alphapulse.trades import logic", "Inside a domain"),
        ("trades/models.py", "import fastapi", "Only web imports FastAPI"),
        ("metrics/logic.py", "import boto3", "Only aws touches the AWS SDK"),
        ("core/keys.py", "from alphapulse.web import app", "web above ingest"),
        ("trades/logic.py", "from alphapulse.portfolio import logic", "Domains are independent"),
        ("aws/sigv4.py", "from alphapulse.core import errors", "The AWS adapters know nothing"),
    ],
)
def test_breaking_a_contract_fails_the_lint(tmp_path: Path, module: str, bad_import: str, contract: str) -> None:
    # Given a copy of the layer where one module makes a forbidden import
    layer = tmp_path / "python"
    shutil.copytree(PACKAGE, layer / "alphapulse", ignore=shutil.ignore_patterns("__pycache__"))
    target = layer / "alphapulse" / module
    target.write_text(target.read_text() + f"\n{bad_import}  # noqa\n")
    # When the contracts are checked, then that one is reported broken
    result = lint_imports(ROOT, layer)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), result.stdout


def test_at_most_ten_modules_side_by_side() -> None:
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
        entries = [
            p
            for p in folder.iterdir()
            if p.name != "__init__.py" and (p.suffix == ".py" or (p / "__init__.py").exists())
        ]
        modules = [p for p in entries if p.suffix == ".py"]
        assert len(modules) <= MAX_SIDE_BY_SIDE, f"{folder}: {len(modules)} modules"
    assert [p for p in PACKAGE.iterdir() if p.suffix == ".py" and p.name != "__init__.py"] == []


def test_no_module_over_400_lines() -> None:
    long = {
        str(path.relative_to(LAYER)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_package_inits_are_empty() -> None:
    # Importing a package must cost nothing: a cold start loads only the modules its function uses.
    assert [str(p) for p in PACKAGE.rglob("__init__.py") if p.read_text().strip()] == []
