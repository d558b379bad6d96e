"""The built dashboard on the REST API's origin (devstack/gateways/static.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.gateways.static import NOT_BUILT, StaticSite

CONFIG = {"apiUrl": "/api/v1", "webSocketUrl": "ws://127.0.0.1:3001"}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>AlphaPulse</title>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / ".vite").mkdir()
    (tmp_path / ".vite" / "manifest.json").write_text("{}")
    (tmp_path.parent / "secret.txt").write_text("no")
    return tmp_path


def test_site_root_serves_index_html(dist: Path) -> None:
    status, body, headers = StaticSite(dist, CONFIG).answer("/") or (0, b"", [])
    assert (status, body) == (200, b"<!doctype html><title>AlphaPulse</title>")
    assert ("Content-Type", "text/html; charset=utf-8") in headers


def test_site_config_json_points_at_the_local_apis(dist: Path) -> None:
    status, body, headers = StaticSite(dist, CONFIG).answer("/config.json") or (0, b"", [])
    assert (status, json.loads(body)) == (200, CONFIG)
    assert ("Cache-Control", "no-store") in headers


def test_site_assets_are_served_with_their_type_and_cached_for_good(dist: Path) -> None:
    status, body, headers = StaticSite(dist, CONFIG).answer("/assets/index-abc.js") or (0, b"", [])
    assert (status, body) == (200, b"console.log(1)")
    assert dict(headers)["Cache-Control"].endswith("immutable")
    assert "javascript" in dict(headers)["Content-Type"]


@pytest.mark.parametrize("path", ["/nowhere", "/api/v1/nowhere", "/../secret.txt", "/assets/../../secret.txt",
                                  "/.vite/manifest.json", "/assets"])  # fmt: skip
def test_site_other_paths_are_not_the_sites(dist: Path, path: str) -> None:
    assert StaticSite(dist, CONFIG).answer(path) is None


def test_site_not_built_says_how_to_build(tmp_path: Path) -> None:
    status, body, _ = StaticSite(tmp_path / "missing", CONFIG).answer("/") or (0, b"", [])
    assert (status, body) == (200, NOT_BUILT)
