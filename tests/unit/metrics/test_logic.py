"""Metrics logic with an in-memory reader: windows, defaults, limits and 404s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from alphapulse.core.errors import InvalidQueryError, NotFoundError
from alphapulse.metrics import logic as metrics
from alphapulse.metrics.models import MetricValue, labels_digest
from alphapulse.metrics.repositories import storable_value, valid_metric_name
from tests.fakes import FakeReader

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def series(reader: FakeReader, **params: object) -> metrics.MetricSeries:
    arguments: dict[str, object] = {
        "start_time": None,
        "end_time": None,
        "aggregation": "avg",
        "interval": "1h",
        "now": NOW,
        **params,
    }
    return metrics.metric_series(reader, "default", "pnl", **arguments)  # type: ignore[arg-type]


def test_series_no_times_window_is_last_24_hours() -> None:
    reader = FakeReader({})
    series(reader)
    assert reader.windows == [(NOW - timedelta(hours=24), NOW)]


def test_series_only_end_time_window_is_24_hours_before_it() -> None:
    reader = FakeReader({})
    end = datetime(2026, 1, 1, tzinfo=UTC)
    series(reader, end_time=end)
    assert reader.windows == [(end - timedelta(hours=24), end)]


def test_series_offset_and_naive_times_normalised_to_utc() -> None:
    reader = FakeReader({})
    series(
        reader,
        start_time=datetime(2026, 3, 10, 8, 0, tzinfo=timezone(timedelta(hours=2))),
        end_time=datetime(2026, 3, 10, 9, 0),
    )
    assert reader.windows == [(datetime(2026, 3, 10, 6, 0, tzinfo=UTC), datetime(2026, 3, 10, 9, 0, tzinfo=UTC))]


def test_series_start_after_end_422() -> None:
    with pytest.raises(InvalidQueryError) as caught:
        series(FakeReader({}), start_time=NOW, end_time=NOW - timedelta(seconds=1))
    assert caught.value.parameter == "start_time"


def test_series_window_of_31_days_allowed_longer_422() -> None:
    series(FakeReader({}), start_time=NOW - metrics.MAX_WINDOW, end_time=NOW)
    with pytest.raises(InvalidQueryError):
        series(FakeReader({}), start_time=NOW - metrics.MAX_WINDOW - timedelta(microseconds=1), end_time=NOW)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(999, 12, 31, 23, 59, tzinfo=UTC),  # before the earliest stored time (year 1000)
        datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5))),  # past year 9999 in UTC
        datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5))),  # before year 1 in UTC
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_series_time_out_of_range_422(moment: datetime) -> None:
    with pytest.raises(InvalidQueryError):
        series(FakeReader({}), end_time=moment)
    with pytest.raises(InvalidQueryError):
        series(FakeReader({}), start_time=moment, end_time=NOW)


def test_series_more_points_than_limit_422(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "MAX_POINTS", 5)
    points = [(NOW - timedelta(minutes=m), 1.0) for m in range(1, 7)]
    with pytest.raises(InvalidQueryError):
        series(FakeReader({"pnl": points}))
    assert len(series(FakeReader({"pnl": points[:5]})).points) == 1


def test_series_unknown_metric_empty_points() -> None:
    result = series(FakeReader({}), aggregation="max", interval="5m")
    assert result.model_dump() == {"metric": "pnl", "aggregation": "max", "interval": "5m", "points": []}


def test_latest_metric_missing_not_found() -> None:
    with pytest.raises(NotFoundError):
        metrics.latest_metric(FakeReader({}), "default", "pnl")


def test_latest_metrics_lists_reader_values() -> None:
    value = MetricValue(metric="pnl", value=1.5, timestamp=NOW, labels={"desk": "a"})

    class Reader(FakeReader):
        def latest_all(self, tenant_id: str) -> list[MetricValue]:
            return [value] if tenant_id == "default" else []

    assert metrics.latest_metrics(Reader({}), "default").items == [value]
    assert metrics.latest_metrics(Reader({}), "acme").items == []


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("sharpe_ratio", True),
        ("api.p95:latency-ms", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("", False),
        ("a#b", False),
        ("a/b", False),
        ("é", False),
        ("a b", False),
    ],
)
def test_valid_metric_name_pattern(name: str, valid: bool) -> None:
    assert valid_metric_name(name) is valid


def test_labels_digest_order_independent_and_distinct() -> None:
    assert labels_digest({"a": "1", "b": "2"}) == labels_digest({"b": "2", "a": "1"})
    assert labels_digest({"a": "1"}) != labels_digest({"a": "2"})
    assert labels_digest({}) != labels_digest({"a": ""})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e200, 1e-200, True, "1"])
def test_storable_value_unstorable_rejected(value: object) -> None:
    with pytest.raises(ValueError):
        storable_value(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "stored"), [(0, 0.0), (-0.0, 0.0), (3, 3.0), (-1.25e-7, -1.25e-7), (1e125, 1e125)])
def test_storable_value_numbers_as_float(value: float, stored: float) -> None:
    result = storable_value(value)
    assert result == stored and isinstance(result, float)
    assert str(result) != "-0.0"
