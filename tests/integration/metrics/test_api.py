"""The metrics function through API Gateway events, on moto: routes, permissions, tenants, bad input,
and the repository's idempotent writes."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphapulse.auth.logic.tokens import issue_token
from alphapulse.metrics.models import INTERVAL_SECONDS, MetricSeries, MetricValue
from alphapulse.metrics.repositories import MetricRepository
from devstack.runtime.handlers import LambdaContext
from tests.conftest import EVENTS, RestClient, load_event

BASE = "/api/v1/metrics"
ROUTES = [BASE, f"{BASE}/sharpe_ratio", f"{BASE}/sharpe_ratio/latest"]


def token(role: str = "viewer", tenant: str = "default", *, now: int | None = None) -> str:
    return issue_token(typ="access", username=f"{tenant}-{role}", tenant_id=tenant, role=role, session_id="s", now=now)[
        0
    ]


@pytest.fixture
def api(aws: dict[str, str]) -> RestClient:
    return RestClient("functions/metrics", "metrics")


@pytest.fixture
def repo(aws: dict[str, str]) -> MetricRepository:
    return MetricRepository(aws["DataTable"])


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def seeded(repo: MetricRepository, now: datetime) -> datetime:
    """Tenant default: sharpe_ratio every 10 minutes for the last 2 h, plus a few other metrics."""
    for minutes in range(0, 121, 10):
        repo.put_points("default", now - timedelta(minutes=minutes), {"sharpe_ratio": 1.0 + minutes / 100})
    repo.put_points("default", now - timedelta(minutes=5), {"var_95": 0.03, "leverage": 1.2}, {"desk": "alpha"})
    return now


def get(api: RestClient, path: str, role: str | None = "viewer", tenant: str = "default", **query: str) -> Any:
    return api.request("GET", path, token=token(role, tenant) if role else None, query=list(query.items()))


# --- permissions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("role", ["admin", "trader", "viewer"])
def test_routes_every_role_with_view_metrics_200(api: RestClient, seeded: datetime, path: str, role: str) -> None:
    reply = get(api, path, role)
    assert reply.status == 200, reply.body


@pytest.mark.parametrize("path", ROUTES)
def test_routes_no_token_401(api: RestClient, seeded: datetime, path: str) -> None:
    reply = get(api, path, role=None)
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ROUTES)
def test_routes_expired_token_401(api: RestClient, seeded: datetime, path: str) -> None:
    expired = token("admin", now=int(time.time()) - 3600)
    assert api.request("GET", path, token=expired).status == 401


@pytest.mark.parametrize("path", ROUTES)
def test_routes_refresh_token_or_garbage_401(api: RestClient, seeded: datetime, path: str) -> None:
    refresh = issue_token(typ="refresh", username="a", tenant_id="default", role="admin", session_id="s")[0]
    assert api.request("GET", path, token=refresh).status == 401
    assert api.request("GET", path, token="not-a-token").status == 401


def test_routes_unauthenticated_garbage_params_401_not_422(api: RestClient) -> None:
    reply = get(api, f"{BASE}/sharpe_ratio", role=None, aggregation="median", start_time="yesterday")
    assert reply.status == 401


# --- GET /metrics ------------------------------------------------------------------------------------------


def test_list_latest_every_metric_newest_value(api: RestClient, seeded: datetime) -> None:
    reply = get(api, BASE)
    assert reply.status == 200
    body = reply.json()
    assert set(body) == {"items"}
    by_name = {item["metric"]: item for item in body["items"]}
    assert [item["metric"] for item in body["items"]] == ["leverage", "sharpe_ratio", "var_95"]
    assert by_name["sharpe_ratio"]["value"] == 1.0
    assert by_name["sharpe_ratio"]["labels"] == {}
    assert by_name["var_95"] == {
        "metric": "var_95",
        "value": 0.03,
        "timestamp": (seeded - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "labels": {"desk": "alpha"},
    }


def test_list_latest_no_data_empty(api: RestClient) -> None:
    assert get(api, BASE).json() == {"items": []}


# --- GET /metrics/{metric}/latest --------------------------------------------------------------------------


def test_latest_one_metric_value(api: RestClient, seeded: datetime) -> None:
    body = get(api, f"{BASE}/sharpe_ratio/latest").json()
    assert body["metric"] == "sharpe_ratio"
    assert body["value"] == 1.0
    assert datetime.fromisoformat(body["timestamp"]) == seeded


def test_latest_unknown_metric_404(api: RestClient, seeded: datetime) -> None:
    reply = get(api, f"{BASE}/unknown_metric/latest")
    assert reply.status == 404
    assert "detail" in reply.json()


# --- GET /metrics/{metric} ---------------------------------------------------------------------------------


def test_series_defaults_avg_per_hour_over_last_24h(api: RestClient, seeded: datetime) -> None:
    body = get(api, f"{BASE}/sharpe_ratio").json()
    assert body["metric"] == "sharpe_ratio"
    assert body["aggregation"] == "avg"
    assert body["interval"] == "1h"
    expected = _expected(seeded, "avg", 3600, seeded - timedelta(hours=24), seeded)
    assert _as_map(body["points"]) == pytest.approx(expected)


@pytest.mark.parametrize("aggregation", ["avg", "min", "max", "sum", "count"])
@pytest.mark.parametrize("interval", sorted(INTERVAL_SECONDS))
def test_series_each_aggregation_and_interval_per_bucket(
    api: RestClient, seeded: datetime, aggregation: str, interval: str
) -> None:
    start, end = seeded - timedelta(minutes=95), seeded - timedelta(minutes=10)
    reply = get(
        api,
        f"{BASE}/sharpe_ratio",
        start_time=start.isoformat(),
        end_time=end.isoformat(),
        aggregation=aggregation,
        interval=interval,
    )
    assert reply.status == 200, reply.body
    body = reply.json()
    assert (body["aggregation"], body["interval"]) == (aggregation, interval)
    timestamps = [point["timestamp"] for point in body["points"]]
    assert timestamps == sorted(timestamps)
    assert _as_map(body["points"]) == pytest.approx(
        _expected(seeded, aggregation, INTERVAL_SECONDS[interval], start, end)
    )


def test_series_window_bounds_inclusive(api: RestClient, seeded: datetime) -> None:
    # Points at exactly start and end are counted; a 0-length window at a point holds that point.
    start, end = seeded - timedelta(minutes=30), seeded - timedelta(minutes=10)
    body = get(
        api, f"{BASE}/sharpe_ratio", start_time=start.isoformat(), end_time=end.isoformat(), aggregation="count"
    ).json()
    assert sum(point["value"] for point in body["points"]) == 3
    body = get(
        api, f"{BASE}/sharpe_ratio", start_time=end.isoformat(), end_time=end.isoformat(), aggregation="count"
    ).json()
    assert sum(point["value"] for point in body["points"]) == 1


def test_series_empty_buckets_left_out(api: RestClient, repo: MetricRepository) -> None:
    day = datetime(2026, 1, 5, tzinfo=UTC)
    repo.put_points("default", day + timedelta(hours=1, minutes=5), {"fill_rate": 0.9})
    repo.put_points("default", day + timedelta(hours=1, minutes=50), {"fill_rate": 0.7})
    repo.put_points("default", day + timedelta(hours=4), {"fill_rate": 1.0})
    body = get(
        api, f"{BASE}/fill_rate", start_time=day.isoformat(), end_time=(day + timedelta(hours=6)).isoformat()
    ).json()
    assert body["points"] == [
        {"timestamp": "2026-01-05T01:00:00Z", "value": pytest.approx(0.8)},
        {"timestamp": "2026-01-05T04:00:00Z", "value": 1.0},
    ]


def test_series_labelled_points_at_one_time_all_counted(api: RestClient, repo: MetricRepository) -> None:
    moment = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    repo.put_points("default", moment, {"api_p95_latency": 100.0}, {"route": "a"})
    repo.put_points("default", moment, {"api_p95_latency": 300.0}, {"route": "b"})
    body = get(
        api,
        f"{BASE}/api_p95_latency",
        start_time="2026-01-05T00:00:00Z",
        end_time="2026-01-05T23:59:59Z",
        interval="1d",
    ).json()
    assert body["points"] == [{"timestamp": "2026-01-05T00:00:00Z", "value": 200.0}]


def test_series_offset_times_accepted(api: RestClient, repo: MetricRepository) -> None:
    repo.put_points("default", datetime(2026, 1, 5, 10, 30, tzinfo=UTC), {"leverage": 1.4})
    body = get(
        api, f"{BASE}/leverage", start_time="2026-01-05T12:00:00+02:00", end_time="2026-01-05T07:00:00-04:00"
    ).json()
    assert body["points"] == [{"timestamp": "2026-01-05T10:00:00Z", "value": 1.4}]


def test_series_unknown_metric_empty(api: RestClient, seeded: datetime) -> None:
    body = get(api, f"{BASE}/never_reported").json()
    assert body == {"metric": "never_reported", "aggregation": "avg", "interval": "1h", "points": []}


def test_series_matches_brute_force_over_random_points(api: RestClient, repo: MetricRepository) -> None:
    import random

    rng = random.Random(7)
    day = datetime(2026, 2, 1, tzinfo=UTC)
    points = []
    for _ in range(120):
        moment = day + timedelta(seconds=rng.randrange(0, 2 * 86400), microseconds=rng.randrange(0, 10**6))
        value = rng.uniform(-1000, 1000)
        repo.put_points("default", moment, {"pnl": value}, {"n": str(len(points))})
        points.append((moment, value))
    for aggregation in ("avg", "min", "max", "sum", "count"):
        for interval in ("15m", "1h", "1d"):
            body = get(
                api,
                f"{BASE}/pnl",
                start_time=(day + timedelta(hours=3)).isoformat(),
                end_time=(day + timedelta(hours=40)).isoformat(),
                aggregation=aggregation,
                interval=interval,
            ).json()
            expected = _brute_force(
                points, aggregation, INTERVAL_SECONDS[interval], day + timedelta(hours=3), day + timedelta(hours=40)
            )
            got = _as_map(body["points"])
            assert got.keys() == expected.keys()
            for key, value in expected.items():
                assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-9)


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"aggregation": "median"},
        {"aggregation": ""},
        {"interval": "2h"},
        {"interval": "1H"},
        {"start_time": "yesterday"},
        {"end_time": "2026-13-45T00:00:00Z"},
        {"start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"},
        {"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-02-01T00:00:01Z"},
        {"start_time": "1969-12-31T00:00:00Z"},
        {"end_time": "9999-12-31T23:00:00-05:00"},
        {"start_time": "0001-01-01T00:30:00+05:00"},
        {"end_time": "1e30"},
        {"start_time": "\u2603"},
    ],
)
def test_series_bad_query_422(api: RestClient, query: dict[str, str]) -> None:
    reply = get(api, f"{BASE}/sharpe_ratio", **query)
    assert reply.status == 422, reply.body
    assert isinstance(reply.json()["detail"], list)


@pytest.mark.parametrize(
    "name",
    ["a" * 129, "caf\u00e9", "a#b", "a b", "\u2603\u2603", "%00", "a'b", 'a"b'],
)
@pytest.mark.parametrize("suffix", ["", "/latest"])
def test_metric_name_invalid_422(api: RestClient, name: str, suffix: str) -> None:
    reply = get(api, f"{BASE}/{name}{suffix}")
    assert reply.status == 422, reply.body


@pytest.mark.parametrize("path", [f"{BASE}/a/b/c", f"{BASE}/x/latest/y", f"{BASE}/../system"])
def test_metric_unknown_paths_404(api: RestClient, path: str) -> None:
    assert get(api, path).status == 404


def test_metric_name_of_128_characters_accepted(api: RestClient) -> None:
    assert get(api, f"{BASE}/{'m' * 128}").status == 200
    assert get(api, f"{BASE}/{'m' * 128}/latest").status == 404


def test_write_methods_not_allowed_405(api: RestClient) -> None:
    reply = api.request("POST", f"{BASE}/sharpe_ratio", token=token(), json_body={"value": 1})
    assert reply.status == 405


# --- tenants -----------------------------------------------------------------------------------------------


def test_tenant_other_tenant_sees_nothing(api: RestClient, seeded: datetime, repo: MetricRepository) -> None:
    repo.put_points("acme", seeded - timedelta(hours=1), {"acme_only": 5.0})
    assert [i["metric"] for i in get(api, BASE, "admin", "acme").json()["items"]] == ["acme_only"]
    assert get(api, f"{BASE}/sharpe_ratio", "admin", "acme").json()["points"] == []
    assert get(api, f"{BASE}/sharpe_ratio/latest", "admin", "acme").status == 404
    # and the reverse
    assert "acme_only" not in {i["metric"] for i in get(api, BASE).json()["items"]}
    assert get(api, f"{BASE}/acme_only/latest").status == 404
    assert get(api, f"{BASE}/acme_only").json()["points"] == []


# --- repository writes -------------------------------------------------------------------------------------


def _items(aws: dict[str, str], pk: str) -> list[dict[str, Any]]:
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    return client.query(
        TableName=aws["DataTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )["Items"]


def test_put_points_duplicate_is_a_no_op(aws: dict[str, str], repo: MetricRepository) -> None:
    moment = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert repo.put_points("default", moment, {"a": 1.0, "b": 2.0}, {"x": "1"}) == ["a", "b"]
    assert repo.put_points("default", moment, {"a": 9.0, "b": 2.0}, {"x": "1"}) == []
    assert repo.put_points("default", moment, {"a": 3.0}, {"x": "2"}) == ["a"]
    stored = _items(aws, "T#default#METRIC#a")
    assert sorted(float(item["value"]["N"]) for item in stored) == [1.0, 3.0]


def test_put_points_ttl_is_epoch_seconds_plus_retention(aws: dict[str, str]) -> None:
    repo = MetricRepository(aws["DataTable"], retention_seconds=86400)
    moment = datetime(2026, 1, 5, 10, 0, 0, 999999, tzinfo=UTC)
    repo.put_points("default", moment, {"a": 1.0})
    (item,) = _items(aws, "T#default#METRIC#a")
    assert int(item["expires_at"]["N"]) == int(moment.timestamp()) + 86400
    assert int(item["expires_at"]["N"]) < 10**10  # seconds, not milliseconds
    (latest,) = _items(aws, "T#default#METRICS")
    assert "expires_at" not in latest


def test_put_points_default_retention_from_settings(aws: dict[str, str], repo: MetricRepository) -> None:
    moment = datetime(2026, 1, 5, tzinfo=UTC)
    repo.put_points("default", moment, {"a": 1.0})
    (item,) = _items(aws, "T#default#METRIC#a")
    assert int(item["expires_at"]["N"]) == int(moment.timestamp()) + 90 * 86400


def test_put_points_latest_only_moves_forward(repo: MetricRepository) -> None:
    moment = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    repo.put_points("default", moment, {"a": 1.0})
    repo.put_points("default", moment - timedelta(seconds=1), {"a": 2.0})  # late, out of order
    repo.put_points("default", moment, {"a": 3.0}, {"other": "labels"})  # same time: not newer
    latest = repo.latest("default", "a")
    assert latest is not None and (latest.value, latest.timestamp) == (1.0, moment)
    repo.put_points("default", moment + timedelta(microseconds=1), {"a": 4.0})
    latest = repo.latest("default", "a")
    assert latest is not None and latest.value == 4.0


@pytest.mark.parametrize(
    ("metrics", "labels"),
    [
        ({"ok": 1.0, "bad#name": 1.0}, None),
        ({"ok": 1.0, "nan": float("nan")}, None),
        ({"ok": 1.0, "huge": 1e300}, None),
        ({"ok": 1.0}, {"key": 5}),
    ],
)
def test_put_points_invalid_input_nothing_written(
    aws: dict[str, str], repo: MetricRepository, metrics: dict[str, float], labels: Any
) -> None:
    with pytest.raises(ValueError):
        repo.put_points("default", datetime(2026, 1, 5, tzinfo=UTC), metrics, labels)
    assert _items(aws, "T#default#METRIC#ok") == []
    assert _items(aws, "T#default#METRICS") == []


def test_put_points_naive_timestamp_is_utc(repo: MetricRepository) -> None:
    repo.put_points("default", datetime(2026, 1, 5, 10, 0), {"a": 1.0})
    latest = repo.latest("default", "a")
    assert latest is not None and latest.timestamp == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


# --- canned events -----------------------------------------------------------------------------------------

METRICS_EVENTS = sorted(path.stem for path in EVENTS.glob("metrics-*.json"))


def test_every_metrics_route_has_an_event() -> None:
    resources = {json.loads((EVENTS / f"{name}.json").read_text())["path"] for name in METRICS_EVENTS}
    assert resources >= {BASE, f"{BASE}/sharpe_ratio", f"{BASE}/sharpe_ratio/latest"}


@pytest.mark.parametrize("name", METRICS_EVENTS)
def test_metrics_event_answered_2xx(api: RestClient, seeded: datetime, name: str) -> None:
    event = load_event(name, access_token=token("trader"))
    assert "{{" not in json.dumps(event)
    assert event["requestContext"]["resourcePath"] == event["resource"]
    assert event["resource"] in {BASE, f"{BASE}/{{proxy+}}"}
    response = api.handler(event, LambdaContext("metrics"))
    assert 200 <= response["statusCode"] < 300, response


# --- helpers -----------------------------------------------------------------------------------------------


def _as_map(points: list[dict[str, Any]]) -> dict[str, float]:
    return {point["timestamp"]: point["value"] for point in points}


def _expected(now: datetime, aggregation: str, width: int, start: datetime, end: datetime) -> dict[str, float]:
    points = [(now - timedelta(minutes=m), 1.0 + m / 100) for m in range(0, 121, 10)]
    return _brute_force(points, aggregation, width, start, end)


def _brute_force(
    points: list[tuple[datetime, float]], aggregation: str, width: int, start: datetime, end: datetime
) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for moment, value in points:
        if start <= moment <= end:
            epoch = int(moment.timestamp())  # whole seconds are enough: widths are whole minutes
            bucket = datetime.fromtimestamp(epoch - epoch % width, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            groups.setdefault(bucket, []).append(value)
    reduce = {
        "avg": lambda v: math.fsum(v) / len(v),
        "min": min,
        "max": max,
        "sum": math.fsum,
        "count": lambda v: float(len(v)),
    }[aggregation]
    return {bucket: reduce(values) for bucket, values in groups.items()}


# --- fuzz --------------------------------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_times = st.one_of(
    st.none(),
    _text,
    st.datetimes(timezones=st.timezones() | st.none()).map(lambda moment: moment.isoformat()),
    st.integers(-(10**12), 10**12).map(str),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.one_of(st.from_regex(r"[A-Za-z0-9_.:-]{1,130}", fullmatch=True), _text.filter(lambda t: t.strip("/"))),
    start_time=_times,
    end_time=_times,
    aggregation=st.one_of(st.none(), st.sampled_from(["avg", "min", "max", "sum", "count"]), _text),
    interval=st.one_of(st.none(), st.sampled_from(sorted(INTERVAL_SECONDS)), _text),
    suffix=st.sampled_from(["", "/latest"]),
)
def test_fuzz_metric_routes_never_5xx_and_match_schema(
    api: RestClient,
    seeded: datetime,
    name: str,
    start_time: str | None,
    end_time: str | None,
    aggregation: str | None,
    interval: str | None,
    suffix: str,
) -> None:
    params = {"start_time": start_time, "end_time": end_time, "aggregation": aggregation, "interval": interval}
    query = [(key, value) for key, value in params.items() if value is not None]
    reply = api.request("GET", f"{BASE}/{name}{suffix}", token=token(), query=query)
    assert reply.status in {200, 404, 422}, reply.body
    body = reply.json()
    if reply.status == 200:
        (MetricValue if suffix else MetricSeries).model_validate(body)
    else:
        assert "detail" in body
