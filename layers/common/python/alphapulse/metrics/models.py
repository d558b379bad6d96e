"""Metrics: latest values and aggregated series (DESIGN section 4, Metrics)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from alphapulse.core.inputs import Model
from alphapulse.core.times import UtcDatetime

"""Names a metric may have: no '#' (a key separator), no '/' (a path separator), at most 128 characters."""

Aggregation = Literal["avg", "min", "max", "sum", "count"]
Interval = Literal["1m", "5m", "15m", "1h", "1d"]

INTERVAL_SECONDS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}


class MetricValue(Model):
    """The latest value of one metric."""

    metric: str = Field(description="Metric name")
    value: float
    timestamp: UtcDatetime = Field(description="When the value was measured (the reported event's timestamp)")
    labels: dict[str, str] = Field(default_factory=dict)


class MetricList(Model):
    """The latest value of every metric the tenant ever reported, by name."""

    items: list[MetricValue]


class MetricPoint(Model):
    """One bucket of a series: its start and the aggregate of the points inside it."""

    timestamp: UtcDatetime = Field(description="Start of the bucket (aligned to the Unix epoch)")
    value: float


class MetricSeries(Model):
    """A metric aggregated per interval bucket, oldest first; buckets without points are left out."""

    metric: str
    aggregation: Aggregation
    interval: Interval
    points: list[MetricPoint]


def labels_digest(labels: Mapping[str, str]) -> str:
    """A short, stable digest of a label set: the same labels in any order give the same digest."""
    canonical = json.dumps(dict(labels), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
