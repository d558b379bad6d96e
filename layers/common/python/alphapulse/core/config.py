"""Typed settings, read from the environment once, at first use (never at import), and the signing key."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from alphapulse.aws.secrets import SecretUnavailableError, get_secret_string
from alphapulse.aws.snapstart import after_restore
from alphapulse.core.inputs import Model
from alphapulse.core.observability import register_secret

PLACEHOLDER_MARKERS = ("changeme", "change-me", "change_me", "changethis", "placeholder", "example", "xxxx")
MIN_SECRET_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 10
# System status also shows measurements (database latency, live connections, feed lag): kept only briefly.
ROUTE_TTLS = {"get_system_status": 5}

# Environment variable -> Settings field. One table, so the names are documented in one place.
ENVIRONMENT = {
    "APP_ENV": "app_env",
    "AUTH_TABLE": "auth_table",
    "DATA_TABLE": "data_table",
    "DATA_RETENTION_DAYS": "data_retention_days",
    "AUDIT_RETENTION_DAYS": "audit_retention_days",
    "JWT_SECRET": "jwt_secret",
    "JWT_SECRET_ARN": "jwt_secret_arn",
    "JWT_ISSUER": "jwt_issuer",
    "JWT_AUDIENCE": "jwt_audience",
    "ACCESS_TOKEN_TTL_SECONDS": "access_token_ttl_seconds",
    "REFRESH_TOKEN_TTL_SECONDS": "refresh_token_ttl_seconds",
    "WS_TICKET_TTL_SECONDS": "ws_ticket_ttl_seconds",
    "LOGIN_MAX_FAILURES": "login_max_failures",
    "LOGIN_WINDOW_SECONDS": "login_window_seconds",
    "CORS_ORIGINS": "cors_origins",
    "SECRETS_MANAGER_TTL": "secrets_manager_ttl",
    "CONNECTIONS_TABLE": "connections_table",
    "WEBSOCKET_ENDPOINT": "websocket_endpoint",
    "WS_MAX_CONNECTION_SECONDS": "ws_max_connection_seconds",
    "REPLAY_RETENTION_SECONDS": "replay_retention_seconds",
    "PUSH_QUEUE_URL": "push_queue_url",
    "FANOUT_QUEUE_URL": "fanout_queue_url",
    "FANOUT_SHARD_THRESHOLD": "fanout_shard_threshold",
    "ALERTS_TOPIC_ARN": "alerts_topic_arn",
    "CACHE_TABLE": "cache_table",
    "CACHE_TTL_SECONDS": "cache_ttl_seconds",
    "CACHE_ROUTE_TTLS": "cache_route_ttls",
}


def is_placeholder(secret: str) -> bool:
    """True for a secret that someone typed as a stand-in rather than generated."""
    lowered = secret.lower()
    return len(set(lowered)) < MIN_DISTINCT_CHARACTERS or any(marker in lowered for marker in PLACEHOLDER_MARKERS)


class ConfigurationError(RuntimeError):
    """The environment does not describe a usable configuration."""


class Settings(Model):
    """Everything a function needs to know about its deployment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app_env: Literal["local", "dev", "prod"]
    auth_table: str | None = None
    data_table: str | None = None
    data_retention_days: int = Field(default=90, ge=1, le=3650)
    audit_retention_days: int = Field(default=400, ge=1, le=3650)  # the audit log's TTL
    jwt_secret: SecretStr | None = None
    jwt_secret_arn: str | None = None
    jwt_issuer: str = "alphapulse"
    jwt_audience: str = "alphapulse-dashboard"
    access_token_ttl_seconds: int = Field(default=900, ge=1, le=3600)
    refresh_token_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    ws_ticket_ttl_seconds: int = Field(default=60, ge=1, le=60)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    cors_origins: tuple[str, ...] = ()
    secrets_manager_ttl: int = Field(default=300, ge=0, le=86400)  # how long the signing key is kept in-process
    connections_table: str | None = None
    websocket_endpoint: str | None = (
        None  # the management API: https://{api}.execute-api.{region}.amazonaws.com/{stage}
    )
    ws_max_connection_seconds: int = Field(default=7200, ge=1, le=7200)  # API Gateway's hard limit is 2 h
    replay_retention_seconds: int = Field(default=3600, ge=1)  # DESIGN §5 asks for at least 15 minutes
    push_queue_url: str | None = None  # SQS FIFO: every push and catch-up, one group per (tenant, channel)
    fanout_queue_url: str | None = None
    fanout_shard_threshold: int = Field(default=2000, ge=1)
    alerts_topic_arn: str | None = None
    cache_table: str | None = None  # GET responses (DESIGN section 7); unset: nothing is cached
    cache_ttl_seconds: int = Field(default=30, ge=1, le=3600)
    cache_route_ttls: dict[str, int] = Field(default_factory=dict)  # operation id -> seconds: `list_trades=60,...`

    @field_validator("cache_route_ttls", mode="before")
    @classmethod
    def _parse_route_ttls(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [pair.partition("=") for pair in value.split(",") if pair.strip()]
            if any(not sep or not ttl.strip().isdigit() or not 1 <= int(ttl) <= 3600 for _, sep, ttl in pairs):
                raise ValueError("CACHE_ROUTE_TTLS is `operation_id=seconds` pairs (1-3600), comma-separated")
            return {name.strip(): int(ttl) for name, _, ttl in pairs}
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @model_validator(mode="after")
    def _check_secret(self) -> Settings:
        if self.jwt_secret is None and self.jwt_secret_arn is None:
            raise ValueError("set JWT_SECRET (local) or JWT_SECRET_ARN (AWS)")
        if self.jwt_secret is not None:
            secret = self.jwt_secret.get_secret_value()
            if len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(f"JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters")
            if self.app_env != "local" and is_placeholder(secret):
                raise ValueError("JWT_SECRET looks like a placeholder; refusing to start outside local mode")
        return self

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping; raise ConfigurationError when it is unusable."""
        values = {field: environ[name] for name, field in ENVIRONMENT.items() if environ.get(name)}
        try:
            return cls.model_validate(values)
        except ValueError as exc:
            raise ConfigurationError(f"invalid configuration: {exc}") from exc

    def require(self, field: str) -> str:
        """A setting the function cannot work without (a table, a URL), or a clear error naming its variable."""
        value = getattr(self, field)
        if not value:
            variable = next(name for name, known in ENVIRONMENT.items() if known == field)
            raise ConfigurationError(f"{variable} is not set")
        return str(value)

    def require_auth_table(self) -> str:
        """The auth table's name, or a clear error when the function was deployed without it."""
        return self.require("auth_table")

    def require_data_table(self) -> str:
        """The data table's name, or a clear error when the function was deployed without it."""
        return self.require("data_table")

    def cache_ttl(self, operation_id: str) -> int:
        """How long a route's responses are cached (CACHE_ROUTE_TTLS, else the route's default, else
        CACHE_TTL_SECONDS)."""
        default = ROUTE_TTLS.get(operation_id, self.cache_ttl_seconds)
        return self.cache_route_ttls.get(operation_id, default)

    @property
    def retention_seconds(self) -> int:
        """How long metric points and portfolio history are kept (TTL, in seconds)."""
        return self.data_retention_days * 86400


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated at the first call."""
    return Settings.from_environ(os.environ)


class _SigningKey:
    """The signing key, kept for SECRETS_MANAGER_TTL seconds, so that a rotation reaches warm functions."""

    RETRY_SECONDS = 10.0  # while Secrets Manager is down, a stale key is served and asked for again after this

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: str | None = None
        self._fresh_until = 0.0

    def __call__(self) -> str:
        value = self._value
        if value is not None and time.monotonic() < self._fresh_until:
            return value
        with self._lock:
            if self._value is None or time.monotonic() >= self._fresh_until:
                self._refresh()
            assert self._value is not None
            return self._value

    def _refresh(self) -> None:
        settings = get_settings()
        if settings.jwt_secret is not None:
            key, ttl = settings.jwt_secret.get_secret_value(), float("inf")
        else:
            try:
                key, ttl = get_secret_string(str(settings.jwt_secret_arn)), float(settings.secrets_manager_ttl)
            except SecretUnavailableError as exc:
                if self._value is None:
                    raise ConfigurationError(str(exc)) from exc
                self._fresh_until = time.monotonic() + self.RETRY_SECONDS
                return
            if len(key) < MIN_SECRET_LENGTH:
                raise ConfigurationError("the JWT signing secret is missing or shorter than 32 characters")
        register_secret(key)
        self._value, self._fresh_until = key, time.monotonic() + ttl

    def cache_clear(self) -> None:
        with self._lock:
            self._value, self._fresh_until = None, 0.0


signing_key = _SigningKey()
"""The HMAC key of tokens and list cursors: JWT_SECRET, or the Secrets Manager secret named by JWT_SECRET_ARN."""
after_restore(signing_key.cache_clear)  # it may have been rotated, and its deadline is on another clock

# Lambda's initialisation types in which the first request follows this init (not a SnapStart snapshot, whose
# restore forgets the key).
PREFETCHING_INITIALISATIONS = frozenset({"on-demand", "provisioned-concurrency"})


def prefetch_signing_key() -> threading.Thread | None:
    """In Lambda's init, fetch the signing key on a thread while init goes on, so that the first request finds it
    (or waits less): in AWS the fetch is a new TLS connection to Secrets Manager. Elsewhere (tests, tools), and
    for a SnapStart snapshot, nothing. A failure is left for the first request to meet and report."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") not in PREFETCHING_INITIALISATIONS:
        return None

    def fetch() -> None:
        with contextlib.suppress(Exception):  # the first request asks again, and answers the error
            signing_key()

    thread = threading.Thread(target=fetch, name="signing-key", daemon=True)
    thread.start()
    return thread
