"""Settings are validated once, and refuse unusable or placeholder secrets outside local mode."""

from __future__ import annotations

import secrets

import pytest

from alphapulse.core.config import ConfigurationError, Settings

STRONG = secrets.token_urlsafe(36)


def test_settings_defaults_match_design() -> None:
    settings = Settings.from_environ(
        {"APP_ENV": "dev", "JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x"}
    )
    assert settings.access_token_ttl_seconds == 900
    assert settings.refresh_token_ttl_seconds == 7 * 24 * 3600
    assert settings.ws_ticket_ttl_seconds == 60
    assert settings.login_max_failures == 5
    assert settings.login_window_seconds == 300


def test_settings_split_cors_origins() -> None:
    settings = Settings.from_environ(
        {"APP_ENV": "local", "JWT_SECRET": STRONG, "CORS_ORIGINS": "https://a.example, https://b.example,"}
    )
    assert settings.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"APP_ENV": "prod"},
        {"APP_ENV": "staging", "JWT_SECRET": STRONG},
        {"APP_ENV": "dev", "JWT_SECRET": "short"},
        {"APP_ENV": "local", "JWT_SECRET": STRONG, "WS_TICKET_TTL_SECONDS": "61"},
        {"APP_ENV": "local", "JWT_SECRET": STRONG, "ACCESS_TOKEN_TTL_SECONDS": "abc"},
        {"APP_ENV": "local", "JWT_SECRET": STRONG, "UNRELATED": "ignored", "DATA_RETENTION_DAYS": "0"},
    ],
)
def test_settings_unusable_environment_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        Settings.from_environ(environ)


def test_settings_placeholder_secret_refused_outside_local() -> None:
    # Long enough, but typed by a person as a stand-in: fine locally, refused in AWS.
    for placeholder in (
        "changeme" * 4,
        "k" * 40,
        "please-change-me-before-production!",
        "x" * 8 + STRONG[:30],
    ):
        Settings.from_environ({"APP_ENV": "local", "JWT_SECRET": placeholder})
        for env in ("dev", "prod"):
            with pytest.raises(ConfigurationError):
                Settings.from_environ({"APP_ENV": env, "JWT_SECRET": placeholder})
    Settings.from_environ({"APP_ENV": "prod", "JWT_SECRET": STRONG})


def test_settings_secret_not_in_repr() -> None:
    settings = Settings.from_environ({"APP_ENV": "local", "JWT_SECRET": STRONG})
    assert STRONG not in repr(settings)
    assert STRONG not in str(settings.model_dump())


def test_settings_not_read_at_import() -> None:
    import subprocess
    import sys

    # Importing every module of the layer and every function's handler with an empty environment must work.
    code = (
        "import importlib, pathlib, pkgutil, runpy, alphapulse;"
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(alphapulse.__path__, 'alphapulse.')];"
        "[runpy.run_path(str(app)) for app in sorted(pathlib.Path('functions').glob('*/app.py'))]"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "layers/common/python"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
