"""AWS clients, created lazily once per process and reused across invocations.

botocore is used directly rather than boto3: it is what boto3 wraps, and skipping boto3's
resource layer and s3transfer import saves cold-start time (see docs/decisions.md).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Sized for the fan-out pool of the broadcast module; botocore's default is 10.
MAX_POOL_CONNECTIONS = 50


@lru_cache(maxsize=1)
def _session() -> Any:
    import botocore.session

    from alphapulse.observability import get_tracer

    # Traced here, when a client is first needed, rather than by the Tracer patching every
    # library it knows at start-up (which imports botocore even on paths that never use it).
    get_tracer().patch(["botocore"])
    return botocore.session.get_session()


def _client(service: str) -> Any:
    from botocore.config import Config

    config = Config(
        max_pool_connections=MAX_POOL_CONNECTIONS,
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=2,
        read_timeout=5,
    )
    return _session().create_client(service, config=config)


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBClient:
    """The DynamoDB client (region and endpoint from the standard AWS environment)."""
    client: DynamoDBClient = _client("dynamodb")
    return client


def reset() -> None:
    """Forget every client (tests switch endpoints and credentials between cases)."""
    _session.cache_clear()
    dynamodb.cache_clear()
