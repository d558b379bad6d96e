"""Metric points and the latest value of each metric, in the data table (docs/data-model.md).

| item | pk | sk | TTL |
|---|---|---|---|
| point | `T#<t>#METRIC#<name>` | `<timestamp>#<labels digest>` | timestamp + retention |
| latest value | `T#<t>#METRICS` | `LATEST#<name>` | - |
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from alphapulse.aws.dynamodb import DynamoDBError, cancellation_reasons, from_item, to_item
from alphapulse.core import keys
from alphapulse.core.claims import PUSH_PENDING, Claim, ClaimingRepository, ClaimTarget
from alphapulse.core.errors import DataAccessError
from alphapulse.core.keys import METRIC_NAME_PATTERN
from alphapulse.core.storage import MAX_ATTEMPTS, RetainingRepository, storage_errors
from alphapulse.core.times import iso, parse_iso, to_utc
from alphapulse.metrics.models import MetricValue, labels_digest

LATEST = "LATEST"
MAX_METRICS_PER_WRITE = 50
"""Two items per metric (point and latest value) in one transaction, whose limit is 100 items."""
BATCH_GET_SIZE = 100
_METRIC_NAME = re.compile(METRIC_NAME_PATTERN)
# DynamoDB numbers: magnitudes from 1e-130 to below 1e126 (and zero).
_LARGEST = 1e125
_SMALLEST = 1e-130
# Sorts after every character of an ISO time and of a hex digest: `<end>~` includes every point at `<end>`.
_AFTER = "~"


def valid_metric_name(name: str) -> bool:
    """True for a name that may be stored (and therefore looked up)."""
    return bool(_METRIC_NAME.match(name))


def storable_value(value: float) -> float:
    """`value` as a float DynamoDB can store; ValueError for NaN, infinities, bools and out-of-range numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"metric value must be a number, not {type(value).__name__}")
    number = float(value) + 0.0  # -0.0 becomes 0.0
    if not math.isfinite(number) or abs(number) > _LARGEST or (number != 0 and abs(number) < _SMALLEST):
        raise ValueError(f"metric value {value!r} cannot be stored")
    return number


def _metric_key(tenant_id: str, metric: str) -> str:
    return keys.tenant_key(tenant_id, "METRIC", metric)


def _latest_partition(tenant_id: str) -> str:
    return keys.tenant_key(tenant_id, "METRICS")


def point_key(tenant_id: str, metric: str, timestamp: datetime, labels: Mapping[str, str]) -> dict[str, Any]:
    """The key of one point: metric, time and label set."""
    return to_item({"pk": _metric_key(tenant_id, metric), "sk": keys.key(iso(timestamp), labels_digest(labels))})


def latest_key(tenant_id: str, metric: str) -> dict[str, Any]:
    """The key of a metric's latest value."""
    return to_item({"pk": _latest_partition(tenant_id), "sk": keys.key(LATEST, metric)})


def _key_id(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item["pk"]["S"]), str(item["sk"]["S"])


def _put(
    table: str,
    item: dict[str, Any],
    condition: str,
    *,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table, "Item": item, "ConditionExpression": condition}
    if names:
        put["ExpressionAttributeNames"] = names
    if values:
        put["ExpressionAttributeValues"] = values
    return {"Put": put}


def _metric_value(item: Mapping[str, Any]) -> MetricValue:
    return MetricValue(
        metric=item["metric"],
        value=float(item["value"]),
        timestamp=parse_iso(item["timestamp"]),
        labels=item.get("labels") or {},
    )


class MetricRepository(RetainingRepository, ClaimingRepository):
    """Reads and idempotent writes of metric points and latest values."""

    def claim_target(self, tenant_id: str, metric: str, timestamp: datetime, labels: Mapping[str, str]) -> ClaimTarget:
        """A metric point's item, which carries the push its report owes."""
        return ClaimTarget(self, point_key(tenant_id, metric, timestamp, labels))

    def put_points(
        self,
        tenant_id: str,
        timestamp: datetime,
        metrics: Mapping[str, float],
        labels: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Store one reported value per metric at `timestamp`; the names whose point was new.

        Idempotent: a point is keyed by (name, timestamp, labels digest) and written only if absent,
        so a redelivered event changes nothing (the first value stored wins). The metric's latest
        value is replaced only by a strictly newer timestamp, so out-of-order deliveries cannot move
        it backwards. Atomic: after one consistent read of what exists, the new points and the latest
        values they advance are written in one transaction (so at most MAX_METRICS_PER_WRITE metrics);
        a transaction that lost a race is retried on a fresh read. A claiming repository stores its
        claim on each new point. Points expire `retention_seconds` after their timestamp (TTL in epoch
        seconds). ValueError for a name or value that cannot be stored, before anything is written.
        """
        moment = to_utc(timestamp)
        label_map = dict(labels or {})
        for label_name, label_value in label_map.items():
            if not isinstance(label_name, str) or not isinstance(label_value, str):
                raise ValueError("labels must map strings to strings")
        values: dict[str, float] = {}
        for name, value in metrics.items():
            if not isinstance(name, str) or not valid_metric_name(name):
                raise ValueError(f"invalid metric name {name!r}")
            values[name] = storable_value(value)
        if len(values) > MAX_METRICS_PER_WRITE:
            raise ValueError(f"at most {MAX_METRICS_PER_WRITE} metrics can be written at once")
        stamp = iso(moment)
        expires_at = int(moment.timestamp()) + self.retention_seconds
        with storage_errors("put metric points"):
            for _ in range(MAX_ATTEMPTS):
                found = self._read(
                    [point_key(tenant_id, name, moment, label_map) for name in values]
                    + [latest_key(tenant_id, name) for name in values]
                )
                new = [name for name in values if _key_id(point_key(tenant_id, name, moment, label_map)) not in found]
                if not new:
                    return []
                writes: list[dict[str, Any]] = []
                for name in new:
                    body = {"metric": name, "value": values[name], "timestamp": stamp, "labels": label_map}
                    point = {**point_key(tenant_id, name, moment, label_map), **to_item(body)}
                    point.update(to_item({"expires_at": expires_at, **self.claim_attributes()}))
                    writes.append(_put(self.table, point, "attribute_not_exists(pk)"))
                    seen = found.get(_key_id(latest_key(tenant_id, name)))
                    if seen is None or str(from_item(seen).get("timestamp", "")) < stamp:
                        writes.append(
                            _put(
                                self.table,
                                {**latest_key(tenant_id, name), **to_item(body)},
                                "attribute_not_exists(pk) OR #ts < :ts",
                                names={"#ts": "timestamp"},
                                values=to_item({":ts": stamp}),
                            )
                        )
                try:
                    self.client.transact_write_items(TransactItems=writes)
                except DynamoDBError as exc:
                    if cancellation_reasons(exc) is None:
                        raise
                    continue  # another writer got there between our read and our write: read again
                return new
        raise DataAccessError("storage kept conflicting while writing metric points")

    def pending_claims(
        self, tenant_id: str, timestamp: datetime, names: Iterable[str], labels: Mapping[str, str]
    ) -> dict[str, Claim]:
        """The pending claims on the points of one report (a consistent read), by metric name."""
        moment = to_utc(timestamp)
        keyed = {_key_id(point_key(tenant_id, name, moment, labels)): name for name in names}
        with storage_errors("read pending pushes"):
            found = self._read([point_key(tenant_id, name, moment, labels) for name in keyed.values()])
        claims: dict[str, Claim] = {}
        for key_id, item in found.items():
            text = from_item(item).get(PUSH_PENDING)
            claim = Claim.parse(text) if isinstance(text, str) else None
            if claim is not None:
                claims[keyed[key_id]] = claim
        return claims

    def _read(self, item_keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The existing items among `item_keys` (key, timestamp and pending claim only), consistently read."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(item_keys), BATCH_GET_SIZE):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": item_keys[start : start + BATCH_GET_SIZE],
                    "ConsistentRead": True,
                    "ProjectionExpression": "pk, sk, #ts, #pending",
                    "ExpressionAttributeNames": {"#ts": "timestamp", "#pending": PUSH_PENDING},
                }
            }
            for attempt in range(MAX_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    found[_key_id(item)] = item
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
            else:
                raise DataAccessError("storage kept throttling a read of metric points")
        return found

    def latest_all(self, tenant_id: str) -> list[MetricValue]:
        """The latest value of every metric of the tenant, by name."""
        with storage_errors("list latest metrics"):
            return [
                _metric_value(from_item(item))
                for item in self.query_all(
                    KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                    ExpressionAttributeValues=to_item(
                        {":pk": _latest_partition(tenant_id), ":prefix": keys.key(LATEST, "")}
                    ),
                )
            ]

    def latest(self, tenant_id: str, metric: str) -> MetricValue | None:
        """The latest value of one metric, or None (also for a name that could never be stored)."""
        if not valid_metric_name(metric):
            return None
        with storage_errors("get latest metric"):
            response = self.client.get_item(
                TableName=self.table,
                Key=to_item({"pk": _latest_partition(tenant_id), "sk": keys.key(LATEST, metric)}),
            )
        item = response.get("Item")
        return _metric_value(from_item(item)) if item else None

    def points(
        self, tenant_id: str, metric: str, start: datetime, end: datetime, *, limit: int
    ) -> list[tuple[datetime, float]]:
        """(timestamp, value) of the points in [start, end], oldest first; at most `limit` + 1 of them,
        so the caller can tell that the window holds more than `limit`."""
        if not valid_metric_name(metric):
            return []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :start AND :end",
            "ExpressionAttributeValues": to_item(
                {":pk": _metric_key(tenant_id, metric), ":start": iso(start), ":end": iso(end) + _AFTER}
            ),
            "ProjectionExpression": "#ts, #v",
            "ExpressionAttributeNames": {"#ts": "timestamp", "#v": "value"},
        }
        found: list[tuple[datetime, float]] = []
        with storage_errors("query metric points"):
            while len(found) <= limit:
                request["Limit"] = min(limit + 1 - len(found), 10_000)
                response = self.client.query(**request)
                for raw in response.get("Items", []):
                    item = from_item(raw)
                    found.append((parse_iso(item["timestamp"]), float(item["value"])))
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found
