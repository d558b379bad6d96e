"""Portfolio snapshots in the data table (docs/data-model.md).

Partition `T#<t>#PORTFOLIO` holds:
- `LATEST`: the newest snapshot as reported (cash, positions, metrics), valued at read time;
- `SNAP#<as_of>`: one history point per snapshot, with its computed totals only (timestamp,
  total_value, cash, positions_value), so that a history read stays small whatever the number
  of positions. History points expire through TTL (`expires_at`, epoch seconds) after the
  retention period.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

from alphapulse.aws.dynamodb import DynamoDBError, cancellation_reasons, from_item, to_item
from alphapulse.core import keys
from alphapulse.core.claims import ClaimingRepository, ClaimTarget
from alphapulse.core.errors import DataAccessError
from alphapulse.core.storage import CONDITION_FAILED, MAX_ATTEMPTS, RetainingRepository, storage_errors
from alphapulse.core.times import iso
from alphapulse.portfolio.models import HistoryRow, PortfolioSnapshot, value_snapshot

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


def latest_key(tenant_id: str) -> dict[str, Any]:
    """The key of the tenant's latest snapshot."""
    return to_item({"pk": portfolio_partition(tenant_id), "sk": LATEST})


class PortfolioRepository(RetainingRepository, ClaimingRepository):
    """Reads and writes a tenant's portfolio snapshots; history is kept `retention_seconds`."""

    def claim_target(self, tenant_id: str) -> ClaimTarget:
        """The LATEST snapshot item, which carries the push the newest snapshot owes."""
        return ClaimTarget(self, latest_key(tenant_id))

    def latest(self, tenant_id: str) -> PortfolioSnapshot | None:
        """The newest snapshot, or None before the first."""
        with storage_errors("get portfolio"):
            response = self.client.get_item(
                TableName=self.table, Key=to_item({"pk": portfolio_partition(tenant_id), "sk": LATEST})
            )
        item = response.get("Item")
        return PortfolioSnapshot.model_validate(from_item(item)) if item else None

    def history(self, tenant_id: str, *, start: str, end: str, now: int, limit: int) -> list[HistoryRow]:
        """The history points with `start <= as_of <= end` (fixed-width ISO strings), oldest first; at most
        `limit` + 1 of them, so the caller can tell that the window holds more than `limit`.

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
            live = (item for item in items if "expires_at" not in item or int(item["expires_at"]["N"]) > now)
            return [
                HistoryRow(
                    item["as_of"]["S"],
                    float(item["total_value"]["N"]),
                    float(item["cash"]["N"]),
                    float(item["positions_value"]["N"]),
                )
                for item in itertools.islice(live, limit + 1)
            ]

    def put_snapshot(self, tenant_id: str, snapshot: PortfolioSnapshot) -> SnapshotWrite:
        """Record a snapshot: a history point, and the latest snapshot if it is newer than the stored one.

        One transaction writes both, so a failure leaves neither. When a newer snapshot is already the
        latest (a late arrival), the history point is written alone. Both writes are conditional, so a
        duplicate changes nothing and an older snapshot never replaces a newer one. A claiming
        repository stores its claim on the latest snapshot (what a push shows).
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
            **self.claim_attributes(),
        }
        put_point = {"TableName": self.table, "Item": to_item(point), "ConditionExpression": "attribute_not_exists(pk)"}
        put_latest = {
            "TableName": self.table,
            "Item": to_item(latest),
            "ConditionExpression": "attribute_not_exists(pk) OR as_of < :as_of",
            "ExpressionAttributeValues": to_item({":as_of": as_of}),
        }
        with storage_errors("put portfolio snapshot"):
            for _ in range(MAX_ATTEMPTS):
                try:
                    self.client.transact_write_items(TransactItems=[{"Put": put_point}, {"Put": put_latest}])
                    return SnapshotWrite(stored=True, latest=True)
                except DynamoDBError as exc:
                    reasons = cancellation_reasons(exc)
                    if reasons is None:
                        raise
                    if reasons[:1] == [CONDITION_FAILED]:
                        return SnapshotWrite(stored=False, latest=False)  # a duplicate
                    if reasons[1:2] == [CONDITION_FAILED]:
                        stored = self.conditional(
                            "put_item", Item=put_point["Item"], ConditionExpression="attribute_not_exists(pk)"
                        )
                        return SnapshotWrite(stored=stored is not None, latest=False)
                    # a conflicting transaction on the same items: try again
        raise DataAccessError("storage kept conflicting while writing a portfolio snapshot")
