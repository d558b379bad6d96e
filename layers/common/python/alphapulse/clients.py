"""AWS clients, created lazily once per process and reused across invocations.

DynamoDB goes through `alphapulse.dynamodb_client` rather than botocore: the REST functions'
cold start is dominated by SDK import and client creation otherwise (see docs/decisions.md).
"""

from __future__ import annotations

from functools import lru_cache

from alphapulse.dynamodb_client import DynamoDBClient


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBClient:
    """The DynamoDB client (region, endpoint and credentials from the standard AWS environment)."""
    return DynamoDBClient.from_environment()


def reset() -> None:
    """Forget every client (tests switch endpoints and credentials between cases)."""
    dynamodb.cache_clear()
