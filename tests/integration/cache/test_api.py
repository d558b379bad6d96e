"""The response cache through the REST handlers, on moto's CacheTable: MISS then HIT, invalidation by ingest
and by the alerts routes, expiry, tenants and permissions, ETag and 304 (DESIGN section 7)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from alphapulse.ingest.wiring import IngestDependencies
from alphapulse.ingest.wiring import dependencies as ingest_dependencies
from tests.conftest import Function, RestClient, eventbridge, load_event, reset_caches
from tests.integration.trades.test_api import access_token, token_with_permissions

NO_PUSHES: list[Any] = []


@pytest.fixture
def cached(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("CACHE_TABLE", aws["CacheTable"])
    reset_caches()
    # Ingest's pushes are not the point here: recorded, not queued.
    with ingest_dependencies.override(IngestDependencies(publish=lambda *push, push_id: NO_PUSHES.append(push))):
        yield aws


@pytest.fixture
def trades(cached: dict[str, str]) -> RestClient:
    return RestClient("functions/trades", "trades")


@pytest.fixture
def alerts(cached: dict[str, str]) -> Iterator[RestClient]:
    from alphapulse.alerts.wiring import AlertsDependencies, dependencies

    with dependencies.override(AlertsDependencies(publish=lambda *push, push_id: NO_PUSHES.append(push))):
        yield RestClient("functions/alerts", "alerts")


@pytest.fixture
def portfolio(cached: dict[str, str]) -> RestClient:
    return RestClient("functions/portfolio", "portfolio")


def trade(trade_id: str, tenant: str = "default") -> dict[str, Any]:
    executed = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    fields = {"symbol": "AAPL", "side": "buy", "quantity": 10, "price": 100.0, "fees": 0.5, "status": "filled"}
    return {"tenant_id": tenant, "trade_id": trade_id, "order_type": "market", "executed_at": executed, **fields}


def ingest_trade(trade_id: str, tenant: str = "default") -> None:
    Function("functions/ingest")(eventbridge("TradeExecuted", trade(trade_id, tenant)))
    time.sleep(1.1)  # past the settle window, so that the next fill is kept for its whole TTL


def test_a_miss_then_a_hit_with_the_cache_headers(trades: RestClient) -> None:
    token = access_token()
    ingest_trade("T-1")
    first = trades.request("GET", "/api/v1/trades", token=token)
    second = trades.request("GET", "/api/v1/trades", token=token)
    assert (first.status, second.status) == (200, 200)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert first.body == second.body and [t["trade_id"] for t in second.json()["items"]] == ["T-1"]
    assert first.headers["etag"] == second.headers["etag"] and first.headers["etag"].startswith('"')
    assert second.headers["cache-control"] == "private, max-age=30"
    assert "Authorization" in second.headers["vary"]


def test_an_ingested_trade_misses_trades_and_portfolio_while_alerts_stay_hits(
    trades: RestClient, portfolio: RestClient, alerts: RestClient
) -> None:
    token = access_token(role="trader")
    calls = [(trades, "/api/v1/trades"), (portfolio, "/api/v1/portfolio"), (alerts, "/api/v1/alerts")]
    for client, path in calls:
        client.request("GET", path, token=token)
    assert [client.request("GET", path, token=token).headers["x-cache"] for client, path in calls] == ["HIT"] * 3
    ingest_trade("T-2")
    after = [client.request("GET", path, token=token) for client, path in calls]
    assert [reply.headers["x-cache"] for reply in after] == ["MISS", "MISS", "HIT"]
    assert [t["trade_id"] for t in after[0].json()["items"]] == ["T-2"]  # never the stale page


def test_an_acknowledge_misses_the_alerts_and_a_rule_change_the_rules(alerts: RestClient) -> None:
    now = datetime.now(UTC).isoformat()
    message = {"message": "cpu high", "severity": "warning", "source": "t", "status": "firing", "timestamp": now}
    Function("functions/alert_ingest")({"Records": [{"Sns": {"Message": json.dumps(message)}}]})
    time.sleep(1.1)
    token = access_token(role="admin")
    listed = alerts.request("GET", "/api/v1/alerts", token=token)
    (alert,) = listed.json()["items"]
    rules = alerts.request("GET", "/api/v1/alerts/rules", token=token)
    assert alerts.request("GET", "/api/v1/alerts", token=token).headers["x-cache"] == "HIT"
    assert alerts.request("POST", f"/api/v1/alerts/{alert['alert_id']}/acknowledge", token=token).status == 200
    after = alerts.request("GET", "/api/v1/alerts", token=token)
    assert after.headers["x-cache"] == "MISS" and after.json()["items"][0]["status"] == "acknowledged"
    assert alerts.request("GET", "/api/v1/alerts/rules", token=token).headers["x-cache"] == "HIT"
    rule = json.loads(load_event("alerts-rules-create")["body"])
    created = alerts.request("POST", "/api/v1/alerts/rules", token=token, json_body=rule)
    assert created.status == 201, created.body
    after_rule = alerts.request("GET", "/api/v1/alerts/rules", token=token)
    assert after_rule.headers["x-cache"] == "MISS" and len(after_rule.json()["items"]) == len(rules.json()["items"]) + 1


def test_an_expired_entry_still_in_the_table_is_a_miss(trades: RestClient, cached: dict[str, str]) -> None:
    token = access_token()
    trades.request("GET", "/api/v1/trades", token=token)
    # DynamoDB deletes expired items within days: this one is past its expiry but still there
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(cached["CacheTable"])
    entries = [item for item in table.scan()["Items"] if item["sk"] == "ENTRY"]
    assert len(entries) == 1
    table.update_item(Key={"pk": entries[0]["pk"], "sk": "ENTRY"}, UpdateExpression="SET expires_at = :past",
                      ExpressionAttributeValues={":past": int(time.time()) - 1})  # fmt: skip
    assert trades.request("GET", "/api/v1/trades", token=token).headers["x-cache"] == "MISS"


def test_no_hit_across_tenants_or_across_callers_with_other_permissions(trades: RestClient) -> None:
    ingest_trade("T-default")
    ingest_trade("T-acme", "acme")
    trades.request("GET", "/api/v1/trades", token=access_token())
    other_tenant = trades.request("GET", "/api/v1/trades", token=access_token("acme"))
    assert other_tenant.headers["x-cache"] == "MISS"
    assert [t["trade_id"] for t in other_tenant.json()["items"]] == ["T-acme"]
    narrower = trades.request("GET", "/api/v1/trades", token=token_with_permissions(["view_trades"]))
    assert narrower.headers["x-cache"] == "MISS"
    # and the permission is checked before the cache, every time
    refused = trades.request("GET", "/api/v1/trades", token=token_with_permissions(["view_alerts"]))
    assert refused.status == 403 and "x-cache" not in refused.headers


def test_a_matching_if_none_match_gets_304_and_a_change_a_new_etag(trades: RestClient) -> None:
    token = access_token()
    first = trades.request("GET", "/api/v1/trades", token=token)
    etag = first.headers["etag"]
    for cache_state in ("HIT", "HIT"):
        again = trades.request("GET", "/api/v1/trades", token=token, headers={"If-None-Match": etag})
        assert (again.status, again.body, again.headers["x-cache"]) == (304, b"", cache_state)
        assert again.headers["etag"] == etag
    assert (
        trades.request("GET", "/api/v1/trades", token=token, headers={"If-None-Match": 'W/"x", ' + etag}).status == 304
    )
    ingest_trade("T-3")
    changed = trades.request("GET", "/api/v1/trades", token=token, headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["etag"] != etag and changed.headers["x-cache"] == "MISS"
    # a 304 on a miss too: the same request again, revalidated against the new tag
    assert (
        trades.request("GET", "/api/v1/trades", token=token, headers={"If-None-Match": changed.headers["etag"]}).status
        == 304
    )


def test_errors_are_not_cached(trades: RestClient) -> None:
    token = access_token()
    assert trades.request("GET", "/api/v1/trades/T-9", token=token).status == 404
    ingest_trade("T-9")
    found = trades.request("GET", "/api/v1/trades/T-9", token=token)
    assert found.status == 200 and found.headers["x-cache"] == "MISS"


def test_a_query_value_cannot_pass_for_another_parameter(trades: RestClient) -> None:
    token = access_token()
    for n in range(3):
        ingest_trade(f"T-q{n}")
    # `a` is ignored by the route, so this asks for the default page size...
    crafted = trades.request("GET", "/api/v1/trades", token=token, query=[("a", "1&limit=1")])
    # ...and this for one trade: the two must not share an entry
    honest = trades.request("GET", "/api/v1/trades", token=token, query=[("a", "1"), ("limit", "1")])
    assert (len(crafted.json()["items"]), len(honest.json()["items"])) == (3, 1)
    assert honest.headers["x-cache"] == "MISS"
