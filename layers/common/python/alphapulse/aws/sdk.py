"""botocore clients, for the operations command's SQS, Lambda and CloudFormation calls: created at first use,
reused. No function imports botocore: the calls functions make have clients of our own (docs/decisions.md).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from alphapulse.aws.snapstart import after_restore

# A synchronous Lambda Invoke lasts as long as the function (up to 15 minutes), and is not repeated on a timeout.
_SERVICE_SETTINGS: dict[str, dict[str, Any]] = {
    "lambda": {"read_timeout": 900, "retries": {"mode": "standard", "total_max_attempts": 1}},
}


@cache
def client(service: str) -> Any:
    """The `service` client (region, endpoint and credentials from the standard AWS environment)."""
    import boto3
    from botocore.config import Config

    settings = {"connect_timeout": 2, "read_timeout": 5, "retries": {"mode": "standard", "max_attempts": 3}}
    config = Config(**{**settings, **_SERVICE_SETTINGS.get(service, {})})
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
    """Forget every client (tests switch endpoints and credentials between cases, and a SnapStart restore
    renews their connections and credentials)."""
    client.cache_clear()


after_restore(reset)
