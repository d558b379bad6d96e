"""Finding Node and deciding when the dashboard is rebuilt (devstack/dashboard.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from devstack import dashboard


def fake_node(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("node", "npm"):
        script = folder / name
        script.write_text(f"#!/bin/sh\necho {version}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def test_node_bin_dir_takes_a_recent_node_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_node(tmp_path / "bin", "v22.3.0")))
    assert dashboard.node_bin_dir(install=False) == tmp_path / "bin"


def test_node_bin_dir_old_node_on_path_falls_back_to_the_venvs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_node(tmp_path / "bin", "v18.19.0")))
    monkeypatch.setattr(dashboard, "_venv_bin", lambda: fake_node(tmp_path / "venv", "v24.19.0"))
    assert dashboard.node_bin_dir(install=False) == tmp_path / "venv"


def test_node_bin_dir_no_node_anywhere_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(dashboard, "_venv_bin", lambda: tmp_path / "venv")
    with pytest.raises(dashboard.DashboardError):
        dashboard.node_bin_dir(install=False)


def test_sources_hash_changes_with_a_source_and_not_with_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.tsx").write_text("a")
    (tmp_path / "package.json").write_text("{}")
    monkeypatch.setattr(dashboard, "WEB", tmp_path)
    before = dashboard.sources_hash()
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.html").write_text("built")
    (tmp_path / "node_modules").mkdir()
    assert dashboard.sources_hash() == before
    (tmp_path / "src" / "main.tsx").write_text("b")
    assert dashboard.sources_hash() != before


def test_is_built_only_for_the_stamped_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.tsx").write_text("a")
    monkeypatch.setattr(dashboard, "WEB", tmp_path)
    monkeypatch.setattr(dashboard, "DIST", tmp_path / "dist")
    monkeypatch.setattr(dashboard, "STAMP", tmp_path / "dist" / ".build-stamp")
    assert not dashboard.is_built()
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.html").write_text("built")
    (tmp_path / "dist" / ".build-stamp").write_text(dashboard.sources_hash() + "\n")
    assert dashboard.is_built()
    (tmp_path / "src" / "main.tsx").write_text("changed")
    assert not dashboard.is_built()


def test_environment_puts_the_chosen_node_first_on_path(tmp_path: Path) -> None:
    env = dashboard._environment(tmp_path)
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path)
