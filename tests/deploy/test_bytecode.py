"""deploy.bytecode: what `python -m deploy` compiles after `sam build` is used at a cold start, whatever dates the
files arrive with, and never runs stale; timestamp-checked bytecode, Python's default, is not used once the dates
change (as `sam deploy`'s zip changes them to 1980)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.bytecode import compile_command, runtime_of, runtime_python

ZIP_EPOCH = 315532800  # 1980-01-01, the date of every file in sam's zips


def code(tmp_path: Path) -> Path:
    package = tmp_path / "code" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("ANSWER = 'compiled'\n")
    return package.parent


def load(directory: Path) -> tuple[str, list[str]]:
    """`pkg.mod.ANSWER` in a fresh interpreter that cannot write bytecode (Lambda's code is read-only), and where
    each module of `directory` came from: bytecode or source."""
    result = subprocess.run(
        [sys.executable, "-v", "-c", "import pkg.mod; print(pkg.mod.ANSWER)"],
        env={**os.environ, "PYTHONPATH": str(directory), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    origins = [
        "bytecode" if "__pycache__" in line else "source"
        for line in result.stderr.splitlines()
        if line.startswith("# code object from") and str(directory) in line
    ]
    return result.stdout.strip(), origins


def redate(directory: Path) -> None:
    for path in directory.rglob("*.py"):
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH))


def test_compiled_bytecode_is_used_whatever_the_dates(tmp_path: Path) -> None:
    directory = code(tmp_path)
    assert subprocess.run(compile_command(sys.executable, directory), check=False).returncode == 0
    redate(directory)
    assert load(directory) == ("compiled", ["bytecode", "bytecode"])


def test_python_default_bytecode_is_not_used_once_the_dates_change(tmp_path: Path) -> None:
    # Why deploy.bytecode exists: pip's and compileall's default (timestamp) bytecode is thrown away.
    directory = code(tmp_path)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(directory)], check=True)
    redate(directory)
    assert load(directory) == ("compiled", ["source", "source"])


def test_a_changed_source_runs_instead_of_its_stale_bytecode(tmp_path: Path) -> None:
    directory = code(tmp_path)
    subprocess.run(compile_command(sys.executable, directory), check=True)
    (directory / "pkg" / "mod.py").write_text("ANSWER = 'changed'\n")
    assert load(directory) == ("changed", ["bytecode", "source"])


def test_runtime_of_an_interpreter_is_its_version() -> None:
    assert runtime_of(sys.executable) == f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert runtime_of("/nonexistent/python3.13") is None


def test_runtime_python_finds_an_interpreter_of_that_version() -> None:
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    found = runtime_python(runtime)
    if found is None:
        pytest.skip(f"no {runtime} on PATH or under ~/.pyenv")
    assert runtime_of(found) == runtime
    assert runtime_python("python2.1") is None
