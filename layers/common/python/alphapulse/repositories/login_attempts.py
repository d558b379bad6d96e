"""Failed-login counters per username (`LOGIN#<username>`), in fixed windows that expire by TTL."""

from __future__ import annotations

from typing import Any

from alphapulse import keys
from alphapulse.dynamo import from_item, storage_errors, to_item
from alphapulse.errors import DataAccessError
from alphapulse.repositories.base import TableRepository

FAILURES = "FAILURES"


class LoginAttemptRepository(TableRepository):
    """Counts failed logins; a window starts at the first failure and lasts `window` seconds."""

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
                counted = self.conditional(
                    "update_item",
                    Key=self._key(username),
                    UpdateExpression="ADD failures :one",
                    ConditionExpression="window_end > :now",
                    ExpressionAttributeValues=to_item({":one": 1, ":now": now}),
                    ReturnValues="UPDATED_NEW",
                )
                if counted is not None:
                    return int(from_item(counted["Attributes"])["failures"])
                started = self.conditional(
                    "put_item",
                    Item={
                        **self._key(username),
                        **to_item({"failures": 1, "window_end": now + window, "expires_at": now + window}),
                    },
                    ConditionExpression="attribute_not_exists(pk) OR window_end <= :now",
                    ExpressionAttributeValues=to_item({":now": now}),
                )
                if started is not None:
                    return 1
        raise DataAccessError("login failure counter kept racing")

    def clear(self, username: str) -> None:
        """Forget the failures after a successful login."""
        with storage_errors("clear login failures"):
            self.client.delete_item(TableName=self.table, Key=self._key(username))
