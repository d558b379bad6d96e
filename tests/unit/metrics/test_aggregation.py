"""Series aggregation: per-bucket results equal a brute-force computation over random data."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphapulse.metrics import logic as metrics
from alphapulse.metrics.models import INTERVAL_SECONDS
from tests.fakes import FakeReader

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BASE = datetime(2026, 3, 1, tzinfo=UTC)


def brute_force(points: list[tuple[datetime, float]], aggregation: str, interval_seconds: int) -> dict[datetime, float]:
    """Bucket start -> aggregate, computed the plain way: integer seconds and microseconds, no helpers."""
    groups: dict[datetime, list[float]] = {}
    for moment, value in points:
        delta = moment - EPOCH
        micros = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
        start_micros = (micros // (interval_seconds * 1_000_000)) * (interval_seconds * 1_000_000)
        start = EPOCH + timedelta(microseconds=start_micros)
        groups.setdefault(start, []).append(value)
    result = {}
    for start, values in groups.items():
        if aggregation == "avg":
            result[start] = math.fsum(values) / len(values)
        elif aggregation == "min":
            result[start] = min(values)
        elif aggregation == "max":
            result[start] = max(values)
        elif aggregation == "sum":
            result[start] = math.fsum(values)
        else:
            result[start] = float(len(values))
    return result


moments = st.integers(min_value=0, max_value=10 * 86_400_000_000).map(lambda us: BASE + timedelta(microseconds=us))
values = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
point_lists = st.lists(st.tuples(moments, values), max_size=300)
aggregations = st.sampled_from(["avg", "min", "max", "sum", "count"])
intervals = st.sampled_from(sorted(INTERVAL_SECONDS))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(points=point_lists, aggregation=aggregations, interval=intervals)
def test_aggregate_random_points_equals_brute_force(
    points: list[tuple[datetime, float]], aggregation: str, interval: str
) -> None:
    seconds = INTERVAL_SECONDS[interval]
    expected = brute_force(points, aggregation, seconds)

    result = metrics.aggregate(points, aggregation, seconds)  # type: ignore[arg-type]

    assert [point.timestamp for point in result] == sorted(expected)
    for point in result:
        assert math.isclose(point.value, expected[point.timestamp], rel_tol=1e-12, abs_tol=1e-9), point


@settings(max_examples=200)
@given(points=point_lists, aggregation=aggregations, interval=intervals, data=st.data())
def test_metric_series_random_window_equals_brute_force_over_the_window(
    points: list[tuple[datetime, float]], aggregation: str, interval: str, data: st.DataObject
) -> None:
    # Given points and a random window, the series aggregates exactly the points inside it.
    start = data.draw(moments, label="start")
    end = data.draw(st.integers(0, 10 * 86_400_000_000).map(lambda us: start + timedelta(microseconds=us)))
    end = min(end, start + metrics.MAX_WINDOW)
    reader = FakeReader({"pnl": points})

    series = metrics.metric_series(
        reader,
        "default",
        "pnl",
        start_time=start,
        end_time=end,
        aggregation=aggregation,  # type: ignore[arg-type]
        interval=interval,  # type: ignore[arg-type]
        now=BASE,
    )

    inside = [(moment, value) for moment, value in points if start <= moment <= end]
    expected = brute_force(inside, aggregation, INTERVAL_SECONDS[interval])
    assert [point.timestamp for point in series.points] == sorted(expected)
    for point in series.points:
        assert math.isclose(point.value, expected[point.timestamp], rel_tol=1e-12, abs_tol=1e-9)


@pytest.mark.parametrize(
    ("interval", "moment", "expected"),
    [
        ("1m", "2026-03-01T10:07:59.999999+00:00", "2026-03-01T10:07:00+00:00"),
        ("5m", "2026-03-01T10:07:00+00:00", "2026-03-01T10:05:00+00:00"),
        ("15m", "2026-03-01T10:15:00+00:00", "2026-03-01T10:15:00+00:00"),
        ("1h", "2026-03-01T10:59:59+00:00", "2026-03-01T10:00:00+00:00"),
        ("1d", "2026-03-01T23:59:59+00:00", "2026-03-01T00:00:00+00:00"),
        ("1h", "2026-03-01T10:30:00+05:30", "2026-03-01T05:00:00+00:00"),
    ],
)
def test_bucket_start_aligned_to_epoch(interval: str, moment: str, expected: str) -> None:
    start = metrics.bucket_start(datetime.fromisoformat(moment), INTERVAL_SECONDS[interval])
    assert start == datetime.fromisoformat(expected)


def test_aggregate_empty_buckets_left_out() -> None:
    points = [(BASE, 1.0), (BASE + timedelta(hours=3), 2.0)]
    result = metrics.aggregate(points, "sum", 3600)
    assert [(p.timestamp, p.value) for p in result] == [(BASE, 1.0), (BASE + timedelta(hours=3), 2.0)]


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("avg", 2.0), ("min", 1.0), ("max", 3.0), ("sum", 6.0), ("count", 3.0)],
)
def test_aggregate_each_aggregation_applied_per_bucket(aggregation: str, expected: float) -> None:
    points = [(BASE + timedelta(minutes=m), v) for m, v in ((1, 3.0), (2, 1.0), (3, 2.0))]
    result = metrics.aggregate(points, aggregation, 3600)  # type: ignore[arg-type]
    assert [(p.timestamp, p.value) for p in result] == [(BASE, expected)]


def test_aggregate_unsorted_input_oldest_first() -> None:
    points = [(BASE + timedelta(days=2), 1.0), (BASE, 2.0), (BASE + timedelta(days=1), 3.0)]
    result = metrics.aggregate(points, "avg", 86400)
    assert [p.timestamp for p in result] == [BASE, BASE + timedelta(days=1), BASE + timedelta(days=2)]
