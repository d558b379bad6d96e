"""Metric points and the latest value of each metric, in the data table (docs/data-model.md).

| item | pk | sk | TTL |
|---|---|---|---|
| point | `T#<t>#METRIC#<name>` | `<timestamp>#<labels digest>` | timestamp + retention |
| latest value | `T#<t>#METRICS` | `LATEST#<name>` | - |
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alphapulse import keys
from alphapulse.dynamo import from_item, storage_errors, to_item
from alphapulse.models.metrics import METRIC_NAME_PATTERN, MetricValue
from alphapulse.repositories.base import RetainingRepository
from alphapulse.timeutil import iso, parse_iso, to_utc

LATEST = "LATEST"
_METRIC_NAME = re.compile(METRIC_NAME_PATTERN)
# DynamoDB numbers: magnitudes from 1e-130 to below 1e126 (and zero).
_LARGEST = 1e125
_SMALLEST = 1e-130
# Sorts after every character of an ISO time and of a hex digest: `<end>~` includes every point at `<end>`.
_AFTER = "~"


def valid_metric_name(name: str) -> bool:
    """True for a name that may be stored (and therefore looked up)."""
    return bool(_METRIC_NAME.match(name))


def labels_digest(labels: Mapping[str, str]) -> str:
    """A short, stable digest of a label set: the same labels in any order give the same digest."""
    canonical = json.dumps(dict(labels), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


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


def _metric_value(item: Mapping[str, Any]) -> MetricValue:
    return MetricValue(
        metric=item["metric"],
        value=float(item["value"]),
        timestamp=parse_iso(item["timestamp"]),
        labels=item.get("labels") or {},
    )


class MetricRepository(RetainingRepository):
    """Reads and idempotent writes of metric points and latest values."""

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
        value is replaced only by a strictly newer timestamp (a conditional write, so out-of-order
        and concurrent deliveries cannot move it backwards). Points expire `retention_seconds`
        after their timestamp (TTL in epoch seconds). ValueError for a name or value that cannot
        be stored, before anything is written.
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
        stamp = iso(moment)
        sort_key = keys.key(stamp, labels_digest(label_map))
        expires_at = int(moment.timestamp()) + self.retention_seconds
        stored: list[str] = []
        with storage_errors("put metric points"):
            for name, value in values.items():
                body = {"metric": name, "value": value, "timestamp": stamp, "labels": label_map}
                created = self.conditional(
                    "put_item",
                    Item=to_item(
                        {"pk": _metric_key(tenant_id, name), "sk": sort_key, **body, "expires_at": expires_at}
                    ),
                    ConditionExpression="attribute_not_exists(pk)",
                )
                if created is not None:
                    stored.append(name)
                self.conditional(
                    "put_item",
                    Item=to_item({"pk": _latest_partition(tenant_id), "sk": keys.key(LATEST, name), **body}),
                    ConditionExpression="attribute_not_exists(pk) OR #ts < :ts",
                    ExpressionAttributeNames={"#ts": "timestamp"},
                    ExpressionAttributeValues=to_item({":ts": stamp}),
                )
        return stored

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
