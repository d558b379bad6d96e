"""Logger (JSON, correlation id) and Metrics (EMF), created at first use.

Every log record passes through a redacting formatter: JSON Web Tokens, bearer
credentials and registered secret values are replaced before anything is written.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

REDACTED = "[REDACTED]"
_TOKEN_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"),  # JWT (header always starts '{"')
    re.compile(r"(?i)(bearer\s+)[^\s\"',]+"),
)
_SENSITIVE_KEYS = re.compile(
    r'(?i)("(?:password|refresh_token|access_token|token|ticket|secret|authorization)"\s*:\s*)"(?:[^"\\]|\\.)*"'
)
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Never let `value` reach a log line."""
    if value:
        _secrets.add(value)


def redact(text: str) -> str:
    """`text` with tokens, sensitive fields and registered secrets replaced."""
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    text = _TOKEN_PATTERNS[0].sub(REDACTED, text)
    text = _TOKEN_PATTERNS[1].sub(r"\1" + REDACTED, text)
    return _SENSITIVE_KEYS.sub(r'\1"' + REDACTED + '"', text)


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, redacting the serialized record."""

    def serialize(self, log: Any) -> str:
        return redact(super().serialize(log))


@lru_cache(maxsize=1)
def get_logger() -> Logger:
    """The function's structured logger (service name and level from the Powertools env vars)."""
    return Logger(logger_formatter=RedactingFormatter(), utc=True)


@lru_cache(maxsize=1)
def get_emf_metrics() -> Metrics:
    """The function's EMF metrics (namespace from POWERTOOLS_METRICS_NAMESPACE)."""
    # Most requests record no metric; Powertools would warn on every one of them.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    return Metrics()


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Add to a count metric, flushed at the end of the invocation; with `dimensions`, a metric of its own,
    written at once (Powertools' single_metric: the function's other metrics keep their dimensions)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    if not dimensions:
        get_emf_metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value) as metric:
        for dimension, label in dimensions.items():
            metric.add_dimension(name=dimension, value=label)
