"""Bytecode in what `sam build` ships, so that a cold start loads modules instead of compiling them.

SAM's Python builder unpacks wheels without compiling them, and `sam deploy` zips every file dated 1980: a
function arrives with no bytecode it could use (timestamp-checked .pyc files would not match the dates anyway),
so each cold start compiles every module it imports, pydantic and FastAPI as well as ours, and cannot keep the
result (Lambda's code directories are read-only). The build is therefore compiled after `sam build`, by the
Lambda runtime's Python version, into hash-checked .pyc files (PEP 552): valid whatever the files' dates, and a
source that no longer matches its .pyc is compiled as before, so stale bytecode never runs. docs/decisions.md
(issue #15) has the figures.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

INVALIDATION_MODE = "checked-hash"


def compile_command(python: str | Path, directory: Path) -> list[str]:
    """Compile every .py under `directory` with `python`, whose minor version must be the Lambda runtime's."""
    return [str(python), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", INVALIDATION_MODE, str(directory)]


def runtime_of(python: str | Path) -> str | None:
    """The Lambda runtime of an interpreter's version (`python3.13`), or None when it does not run."""
    try:
        done = subprocess.run([str(python), "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def runtime_python(runtime: str) -> Path | None:
    """An interpreter of a Lambda runtime (`python3.13`): on PATH, or pyenv's. `sam build` wants it on PATH too."""
    version = runtime.removeprefix("python")
    candidates = [shutil.which(runtime), *sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/{runtime}"))]
    # A pyenv shim is on PATH even where it has no such version: each candidate is asked.
    return next((Path(found) for found in filter(None, candidates) if runtime_of(found) == runtime), None)
