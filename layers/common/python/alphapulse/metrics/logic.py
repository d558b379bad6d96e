"""Metrics logic: latest values and series aggregated per interval bucket (DESIGN section 4, Metrics).

Buckets are aligned to the Unix epoch: a point at `t` belongs to the bucket that starts at
`floor(t / interval) * interval` (so `1d` buckets start at midnight UTC). A bucket's value is the
aggregation of the points inside it; buckets without points are left out; oldest first.

A series window is at most `MAX_WINDOW` long and may hold at most `MAX_POINTS` stored points;
beyond either the request is refused with 422, so no request reads unbounded data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from alphapulse.core.errors import InvalidQueryError, NotFoundError
from alphapulse.core.times import EARLIEST, LATEST, to_utc
from alphapulse.metrics.models import (
    INTERVAL_SECONDS,
    Aggregation,
    Interval,
    MetricList,
    MetricPoint,
    MetricSeries,
    MetricValue,
)

DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=31)
MAX_POINTS = 100_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _average(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _count(values: Sequence[float]) -> float:
    return float(len(values))


# fsum is exactly rounded, so a sum does not depend on the order the points were read in.
REDUCERS: dict[str, Callable[[Sequence[float]], float]] = {
    "avg": _average,
    "min": min,
    "max": max,
    "sum": math.fsum,
    "count": _count,
}


class MetricReader(Protocol):
    """What the metrics logic reads (implemented by metrics.repositories.MetricRepository)."""

    def latest_all(self, tenant_id: str) -> list[MetricValue]: ...

    def latest(self, tenant_id: str, metric: str) -> MetricValue | None: ...

    def points(
        self, tenant_id: str, metric: str, start: datetime, end: datetime, *, limit: int
    ) -> list[tuple[datetime, float]]: ...


def latest_metrics(reader: MetricReader, tenant_id: str) -> MetricList:
    """The latest value of every metric the tenant has reported."""
    return MetricList(items=reader.latest_all(tenant_id))


def latest_metric(reader: MetricReader, tenant_id: str, metric: str) -> MetricValue:
    """The latest value of one metric; NotFoundError when it has none."""
    value = reader.latest(tenant_id, metric)
    if value is None:
        raise NotFoundError(f"No value of metric {metric!r}")
    return value


def series_window(start_time: datetime | None, end_time: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The UTC window [start, end] of a series query: end defaults to now, start to 24 h before end.

    422 for a start after the end, a window longer than MAX_WINDOW, or times outside EARLIEST-LATEST (years 1000-9999).
    """
    end = _utc_time("end_time", end_time) if end_time is not None else to_utc(now)
    if start_time is not None:
        start = _utc_time("start_time", start_time)
    else:
        start = max(end - DEFAULT_WINDOW, EARLIEST) if end >= EARLIEST else end
    for field, moment in (("start_time", start), ("end_time", end)):
        if not EARLIEST <= moment <= LATEST:
            raise InvalidQueryError(field, f"Time must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    if start > end:
        raise InvalidQueryError("start_time", "start_time must not be after end_time")
    if end - start > MAX_WINDOW:
        raise InvalidQueryError("start_time", f"The window may span at most {MAX_WINDOW.days} days")
    return start, end


def _utc_time(field: str, moment: datetime) -> datetime:
    try:
        return to_utc(moment)
    except ValueError as exc:  # an offset that pushes the time past year 9999 or before year 1
        raise InvalidQueryError(field, "Time out of range") from exc


def bucket_start(moment: datetime, interval_seconds: int) -> datetime:
    """Start of the epoch-aligned bucket of `interval_seconds` that holds `moment` (exact, in microseconds)."""
    micros = (to_utc(moment) - _EPOCH) // _MICROSECOND
    width = interval_seconds * 1_000_000
    return _EPOCH + timedelta(microseconds=micros // width * width)


def aggregate(
    points: Iterable[tuple[datetime, float]], aggregation: Aggregation, interval_seconds: int
) -> list[MetricPoint]:
    """One point per non-empty bucket, oldest first, valued by `aggregation` over the bucket's points."""
    buckets: dict[datetime, list[float]] = {}
    for moment, value in points:
        buckets.setdefault(bucket_start(moment, interval_seconds), []).append(value)
    reduce = REDUCERS[aggregation]
    return [MetricPoint(timestamp=start, value=reduce(buckets[start])) for start in sorted(buckets)]


def metric_series(
    reader: MetricReader,
    tenant_id: str,
    metric: str,
    *,
    start_time: datetime | None,
    end_time: datetime | None,
    aggregation: Aggregation,
    interval: Interval,
    now: datetime,
) -> MetricSeries:
    """`metric` between start_time and end_time, aggregated per `interval` bucket.

    An unknown metric is an empty series, as is a window without points. 422 when the window
    holds more than MAX_POINTS points (narrow it).
    """
    start, end = series_window(start_time, end_time, now)
    points = reader.points(tenant_id, metric, start, end, limit=MAX_POINTS)
    if len(points) > MAX_POINTS:
        raise InvalidQueryError("start_time", f"More than {MAX_POINTS} points in the window: narrow it")
    return MetricSeries(
        metric=metric,
        aggregation=aggregation,
        interval=interval,
        points=aggregate(points, aggregation, INTERVAL_SECONDS[interval]),
    )
