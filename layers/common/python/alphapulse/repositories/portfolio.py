"""Portfolio snapshots in the data table (docs/data-model.md).

Partition `T#<t>#PORTFOLIO` holds:
- `LATEST`: the newest snapshot as reported (cash, positions, metrics), valued at read time;
- `SNAP#<as_of>`: one history point per snapshot, with its computed totals only (timestamp,
  total_value, cash, positions_value), so that a history read stays small whatever the number
  of positions. History points expire through TTL (`expires_at`, epoch seconds) after the
  retention period.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from alphapulse import keys
from alphapulse.dynamo import from_item, is_condition_failure, storage_errors, to_item
from alphapulse.dynamodb_client import DynamoDBError
from alphapulse.models.portfolio import HistoryRow, PortfolioSnapshot, value_snapshot
from alphapulse.repositories.base import RetainingRepository
from alphapulse.timeutil import iso

PORTFOLIO = "PORTFOLIO"
LATEST = "LATEST"
SNAP = "SNAP"
HISTORY_ATTRIBUTES = ("as_of", "total_value", "cash", "positions_value", "expires_at")


class SnapshotWrite(NamedTuple):
    """What `put_snapshot` changed: a new history point, and whether the snapshot became the latest."""

    stored: bool
    latest: bool


def portfolio_partition(tenant_id: str) -> str:
    return keys.tenant_key(tenant_id, PORTFOLIO)


def snapshot_sort_key(as_of: str) -> str:
    return keys.key(SNAP, as_of)


class PortfolioRepository(RetainingRepository):
    """Reads and writes a tenant's portfolio snapshots; history is kept `retention_seconds`."""

    def latest(self, tenant_id: str) -> PortfolioSnapshot | None:
        """The newest snapshot, or None before the first."""
        with storage_errors("get portfolio"):
            response = self.client.get_item(
                TableName=self.table, Key=to_item({"pk": portfolio_partition(tenant_id), "sk": LATEST})
            )
        item = response.get("Item")
        return PortfolioSnapshot.model_validate(from_item(item)) if item else None

    def history(self, tenant_id: str, *, start: str, end: str, now: int) -> list[HistoryRow]:
        """Every history point with `start <= as_of <= end` (fixed-width ISO strings), oldest first.

        Points whose TTL has passed are left out even before DynamoDB deletes them.
        """
        items = self.query_all(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :start AND :end",
            ExpressionAttributeValues=to_item(
                {
                    ":pk": portfolio_partition(tenant_id),
                    ":start": snapshot_sort_key(start),
                    ":end": snapshot_sort_key(end) + "~",
                }
            ),
            # Names, not words: no attribute name can ever collide with DynamoDB's reserved words.
            ProjectionExpression=", ".join(f"#{name}" for name in HISTORY_ATTRIBUTES),
            ExpressionAttributeNames={f"#{name}": name for name in HISTORY_ATTRIBUTES},
            ScanIndexForward=True,
        )
        with storage_errors("read portfolio history"):
            # Read straight from the attribute values: a 90-day window can hold ~100k points,
            # and only the few that survive downsampling become response models.
            return [
                HistoryRow(
                    item["as_of"]["S"],
                    float(item["total_value"]["N"]),
                    float(item["cash"]["N"]),
                    float(item["positions_value"]["N"]),
                )
                for item in items
                if "expires_at" not in item or int(item["expires_at"]["N"]) > now
            ]

    def put_snapshot(self, tenant_id: str, snapshot: PortfolioSnapshot) -> SnapshotWrite:
        """Record a snapshot: a history point, and the latest snapshot if it is newer than the stored one.

        Both writes are conditional, so a duplicate (or a retry after a partial failure) changes
        nothing that is already there, and an older snapshot arriving late never replaces a newer one.
        """
        as_of = iso(snapshot.as_of)
        partition = portfolio_partition(tenant_id)
        valuation = value_snapshot(snapshot)
        point = {
            "pk": partition,
            "sk": snapshot_sort_key(as_of),
            "as_of": as_of,
            "total_value": valuation.total_value,
            "cash": valuation.cash,
            "positions_value": valuation.positions_value,
            "expires_at": int(snapshot.as_of.timestamp()) + self.retention_seconds,
        }
        latest = {
            "pk": partition,
            "sk": LATEST,
            "as_of": as_of,
            "cash": snapshot.cash,
            "positions": [position.model_dump() for position in snapshot.positions],
            "metrics": snapshot.metrics.model_dump() if snapshot.metrics is not None else None,
        }
        with storage_errors("put portfolio snapshot"):
            stored = self._put_if(point, "attribute_not_exists(pk)", {})
            became_latest = self._put_if(
                latest, "attribute_not_exists(pk) OR as_of < :as_of", to_item({":as_of": as_of})
            )
        return SnapshotWrite(stored=stored, latest=became_latest)

    def _put_if(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> bool:
        request: dict[str, Any] = {"TableName": self.table, "Item": to_item(item), "ConditionExpression": condition}
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self.client.put_item(**request)
        except DynamoDBError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
