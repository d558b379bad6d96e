"""What every repository shares: its table, a lazily fetched client, paged queries, conditional and batch
writes, and the translation of storage failures into DataAccessError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alphapulse.aws import dynamodb
from alphapulse.aws.dynamodb import DynamoDBClient, DynamoDBConnectionError, DynamoDBError, is_condition_failure
from alphapulse.aws.sigv4 import full_jitter
from alphapulse.core.errors import DataAccessError

BATCH_WRITE_LIMIT = 25  # requests per BatchWriteItem
BATCH_WRITE_ATTEMPTS = 6
CONDITION_FAILED = "ConditionalCheckFailed"
MAX_ATTEMPTS = 5
"""Optimistic retries of a write that lost a race (a condition or TransactionConflict) or whose reads went stale."""


@contextmanager
def storage_errors(operation: str) -> Iterator[None]:
    """Turn DynamoDB failures into DataAccessError, keeping the cause."""
    try:
        yield
    except (DynamoDBError, DynamoDBConnectionError) as exc:
        raise DataAccessError(f"storage unavailable during {operation}") from exc


class TableRepository:
    """A repository over one table. The client is fetched at first use, never at construction."""

    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self.table = table
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        return self._client or dynamodb.client()

    def query_all(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every raw item a Query matches, page after page (for reads known to be small or bounded)."""
        request = {"TableName": self.table, **params}
        while True:
            response = self.client.query(**request)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def batch_write(self, requests: list[dict[str, Any]]) -> None:
        """Put or delete requests, 25 per BatchWriteItem; the unprocessed ones (throttling) are sent again with
        backoff, and DataAccessError is raised if some are still left."""
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {self.table: requests[start : start + BATCH_WRITE_LIMIT]}
            for attempt in range(1, BATCH_WRITE_ATTEMPTS + 1):
                pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
                if attempt < BATCH_WRITE_ATTEMPTS:
                    full_jitter(attempt)
            else:
                raise DataAccessError("storage kept throttling a batch write")

    def conditional(self, operation: str, **params: Any) -> dict[str, Any] | None:
        """Run a conditional write; its response, or None when the condition did not hold (the item that failed
        it is not sent back)."""
        return self._conditional(operation, "NONE", params)[0]

    def conditional_seen(self, operation: str, **params: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """Run a conditional write: (its response, {}), or (None, the item as the failed condition saw it,
        decoded; {} when there was none). A retried write can so tell its own earlier success from a lost race."""
        return self._conditional(operation, "ALL_OLD", params)

    def _conditional(
        self, operation: str, on_failure: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(
                TableName=self.table, ReturnValuesOnConditionCheckFailure=on_failure, **params
            )
        except DynamoDBError as exc:
            if is_condition_failure(exc):
                return None, dynamodb.from_item(exc.response.get("Item") or {})
            raise
        return response, {}


class RetainingRepository(TableRepository):
    """A repository whose items expire: `retention_seconds` after their time (TTL, epoch seconds)."""

    def __init__(
        self, table: str, client: DynamoDBClient | None = None, *, retention_seconds: int | None = None
    ) -> None:
        super().__init__(table, client)
        self._retention_seconds = retention_seconds

    @property
    def retention_seconds(self) -> int:
        """The given retention, else the settings' (DATA_RETENTION_DAYS)."""
        if self._retention_seconds is not None:
            return self._retention_seconds
        from alphapulse.core.config import get_settings

        return get_settings().retention_seconds
