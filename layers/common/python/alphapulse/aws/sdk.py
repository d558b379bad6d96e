"""botocore clients, for the services without a client of our own (SNS): created at first use, reused.

Only the function that publishes to SNS (rules) imports botocore, and only when it first does: the others
never pay its import (see docs/decisions.md).
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    """The `service` client (region, endpoint and credentials from the standard AWS environment)."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client(service, config=config)  # type: ignore[call-overload]


class SdkError(RuntimeError):
    """An SDK call was refused or could not be made."""


def call(service: str, operation: str, **params: Any) -> Any:
    """`client(service).<operation>(**params)`; SdkError when AWS refused it or could not be reached."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(client(service), operation)(**params)
    except (BotoCoreError, ClientError) as exc:
        raise SdkError(f"{service} {operation} failed: {exc}") from exc


def reset() -> None:
    """Forget every client (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
