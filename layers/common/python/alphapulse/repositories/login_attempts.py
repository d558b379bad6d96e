"""Failed-login counters per username (`LOGIN#<username>`), in fixed windows that expire by TTL."""

from __future__ import annotations

from typing import Any

from alphapulse import clients, keys
from alphapulse.dynamo import from_item, is_condition_failure, storage_errors, to_item
from alphapulse.dynamodb_client import DynamoDBError
from alphapulse.errors import DataAccessError

FAILURES = "FAILURES"


class LoginAttemptRepository:
    """Counts failed logins; a window starts at the first failure and lasts `window` seconds."""

    def __init__(self, table: str, client: Any | None = None) -> None:
        self.table = table
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or clients.dynamodb()

    def _key(self, username: str) -> dict[str, Any]:
        return to_item({"pk": keys.login_failures_key(username), "sk": FAILURES})

    def current(self, username: str, *, now: int) -> tuple[int, int]:
        """(failures, window end) of the live window, or (0, now) when there is none."""
        with storage_errors("read login failures"):
            response = self.client.get_item(TableName=self.table, Key=self._key(username), ConsistentRead=True)
        item = from_item(response["Item"]) if "Item" in response else None
        if not item or int(item["window_end"]) <= now:
            return 0, now
        return int(item["failures"]), int(item["window_end"])

    def record_failure(self, username: str, *, now: int, window: int) -> int:
        """Count one failure and return the failures in the live window."""
        with storage_errors("record login failure"):
            for _ in range(3):  # at most a couple of races between "increment" and "new window"
                try:
                    response = self.client.update_item(
                        TableName=self.table,
                        Key=self._key(username),
                        UpdateExpression="ADD failures :one",
                        ConditionExpression="window_end > :now",
                        ExpressionAttributeValues=to_item({":one": 1, ":now": now}),
                        ReturnValues="UPDATED_NEW",
                    )
                    return int(from_item(response["Attributes"])["failures"])
                except DynamoDBError as exc:
                    if not is_condition_failure(exc):
                        raise
                try:
                    self.client.put_item(
                        TableName=self.table,
                        Item={
                            **self._key(username),
                            **to_item({"failures": 1, "window_end": now + window, "expires_at": now + window}),
                        },
                        ConditionExpression="attribute_not_exists(pk) OR window_end <= :now",
                        ExpressionAttributeValues=to_item({":now": now}),
                    )
                    return 1
                except DynamoDBError as exc:
                    if not is_condition_failure(exc):
                        raise
        raise DataAccessError("login failure counter kept racing")

    def clear(self, username: str) -> None:
        """Forget the failures after a successful login."""
        with storage_errors("clear login failures"):
            self.client.delete_item(TableName=self.table, Key=self._key(username))
