"""What the repositories' transactions share: reading why DynamoDB cancelled one."""

from __future__ import annotations

from alphapulse.dynamodb_client import DynamoDBError

CONDITION_FAILED = "ConditionalCheckFailed"
MAX_ATTEMPTS = 5
"""Optimistic retries of a transaction that lost a race (TransactionConflict) or whose reads went stale."""


def cancellation_reasons(exc: DynamoDBError) -> list[str] | None:
    """The per-item codes of a cancelled transaction ('None' for an item that was fine), or None when
    `exc` is not a cancelled transaction."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return [str(reason.get("Code", "None")) for reason in exc.response.get("CancellationReasons", [])]
