"""The connection sweeper: expired connections of every tenant closed and forgotten, live ones untouched,
410 tolerated, one failure never stopping the others, no Scan, bounded work per run (moto + fake API)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from alphapulse.aws.dynamodb import DynamoDBClient
from alphapulse.aws.management_api import ManagementApiClient
from alphapulse.aws.sigv4 import Credentials
from alphapulse.realtime.logic import sweeper
from alphapulse.realtime.logic.broadcast import Fanout
from alphapulse.realtime.models import Connection
from alphapulse.realtime.repositories.channels import ChannelRepository
from alphapulse.realtime.repositories.connections import ConnectionRepository
from devstack.runtime.handlers import LambdaContext, load_module
from tests.conftest import load_event
from tests.fakes import FakeManagementApi
from tests.integration.realtime.conftest import access_token, table_items


class Tables:
    def __init__(self, table: str, gateway: FakeManagementApi) -> None:
        self.table, self.gateway = table, gateway
        self.connections, self.channels = ConnectionRepository(table), ChannelRepository(table)
        api = ManagementApiClient(
            endpoint=gateway.endpoint,
            region="us-east-1",
            credentials=lambda: Credentials("a", "b", None),
            sleep=lambda _: None,
        )
        self.fanout = Fanout(api, self.connections, concurrency=4)

    def connect(self, connection_id: str, tenant: str = "default", *, lifetime: int) -> None:
        """A connection subscribed to two channels, whose lifetime ends `lifetime` seconds from now (< 0: ended)."""
        now = int(time.time())
        expires_at = now + lifetime
        self.connections.put(
            Connection(connection_id, tenant, "u", frozenset({"view_trades"}), expires_at, now - 60, expires_at)
        )
        for channel in ("trades", "alerts"):
            self.channels.go_live(tenant, channel, connection_id, live_from=0, expires_at=expires_at, checked=False)

    def rows_of(self, connection_id: str) -> list[dict[str, Any]]:
        return [
            item
            for item in table_items(self.table)
            if connection_id in (item.get("connection_id"), item["pk"].removeprefix("CONN#"))
        ]

    def sweep(self, **options: Any) -> sweeper.SweepReport:
        return sweeper.sweep(self.connections, self.fanout, now=int(time.time()), **options)


@pytest.fixture
def tables(realtime: dict[str, str], gateway: FakeManagementApi) -> Tables:
    return Tables(realtime["ConnectionsTable"], gateway)


@pytest.fixture
def operations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every DynamoDB operation our client runs (boto3 reads of the tests are not counted)."""
    seen: list[str] = []
    original = DynamoDBClient.call

    def recording(self: DynamoDBClient, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        seen.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(DynamoDBClient, "call", recording)
    yield seen


def deleted(gateway: FakeManagementApi) -> set[str]:
    return {call.connection_id for call in gateway.calls if call.method == "DELETE"}


def test_expired_connections_of_every_tenant_are_closed_and_forgotten_live_ones_untouched(
    tables: Tables, operations: list[str]
) -> None:
    tables.connect("old1", lifetime=-120)
    tables.connect("old2", lifetime=0)  # its lifetime ends this very second
    tables.connect("live1", lifetime=900)
    tables.connect("acme-old", "acme", lifetime=-5)
    tables.connect("acme-live", "acme", lifetime=60)
    operations.clear()

    report = tables.sweep()

    assert (report.tenants, report.closed, report.failed, report.more) == (2, 3, 0, False)
    assert deleted(tables.gateway) == {"old1", "old2", "acme-old"}
    assert not [call for call in tables.gateway.calls if call.method != "DELETE"]  # nothing is sent to them
    for connection_id in ("old1", "old2", "acme-old"):
        assert tables.rows_of(connection_id) == []  # the connection and its subscriptions
    for connection_id in ("live1", "acme-live"):
        assert len(tables.rows_of(connection_id)) == 3
    assert "Scan" not in operations
    assert operations.count("Query") == 3  # the tenant list, then one page per tenant


def test_already_closed_connection_410_is_forgotten_too(tables: Tables) -> None:
    tables.connect("gone", lifetime=-60)
    tables.gateway.closed.add("gone")

    report = tables.sweep()

    assert (report.closed, report.failed) == (1, 0)
    assert tables.rows_of("gone") == []


def test_a_failing_connection_does_not_stop_the_others_and_is_tried_again_next_run(tables: Tables) -> None:
    for n in range(4):
        tables.connect(f"old{n}", lifetime=-60 + n)
    tables.gateway.scripts["old1"] = [500] * 10  # past the client's retries
    tables.gateway.scripts["old2"] = [403]

    report = tables.sweep()

    assert (report.closed, report.failed) == (2, 2)
    assert tables.rows_of("old0") == tables.rows_of("old3") == []
    assert len(tables.rows_of("old1")) == len(tables.rows_of("old2")) == 3
    tables.gateway.scripts.clear()
    assert tables.sweep().closed == 2
    assert tables.rows_of("old1") == tables.rows_of("old2") == []


def test_a_tenant_that_cannot_be_read_does_not_stop_the_others(tables: Tables, monkeypatch: pytest.MonkeyPatch) -> None:
    from alphapulse.core.errors import DataAccessError

    tables.connect("old", lifetime=-60)
    tables.connect("acme-old", "acme", lifetime=-60)
    original = tables.connections.expired

    def failing_for_acme(tenant_id: str, now: int, *, limit: int) -> Any:
        if tenant_id == "acme":
            raise DataAccessError("storage unavailable")
        return original(tenant_id, now, limit=limit)

    monkeypatch.setattr(tables.connections, "expired", failing_for_acme)

    report = tables.sweep()

    assert (report.closed, report.failed) == (1, 1)
    assert deleted(tables.gateway) == {"old"}


def test_work_per_run_is_bounded_oldest_first_and_the_next_run_takes_the_rest(tables: Tables) -> None:
    for n in range(5):
        tables.connect(f"old{n}", lifetime=-100 + n)
    tables.connect("acme-old", "acme", lifetime=-100)

    first = tables.sweep(limit=3)

    assert (first.closed, first.more) == (3, True)
    assert len(deleted(tables.gateway)) == 3
    assert deleted(tables.gateway) <= {"old0", "old1", "old2", "acme-old"}  # the oldest of each tenant first
    second = tables.sweep(limit=3)
    assert (second.closed, second.more) == (3, False)
    assert deleted(tables.gateway) == {f"old{n}" for n in range(5)} | {"acme-old"}


def test_no_tenant_ever_connected_is_a_quiet_run(tables: Tables) -> None:
    report = tables.sweep()
    assert (report.tenants, report.closed, report.failed) == (0, 0, 0)
    assert tables.gateway.calls == []


def test_handler_on_a_scheduled_event_closes_a_connection_made_through_connect_once_its_token_expired(
    realtime: dict[str, str], gateway: FakeManagementApi, caplog: pytest.LogCaptureFixture
) -> None:
    connect = load_module("functions/ws_connection").handler
    token = access_token("trader")
    assert connect(load_event("ws-connect", access_token=token), LambdaContext("ws-connection"))["statusCode"] == 200
    (row,) = [item for item in table_items(realtime["ConnectionsTable"]) if item["pk"].startswith("CONN#")]
    module = load_module("functions/connection_sweeper")
    scheduled = load_event("connection-sweeper-scheduled")

    assert module.handler(scheduled, LambdaContext("connection-sweeper"))["closed"] == 0  # still live
    assert gateway.calls == []
    with pytest.MonkeyPatch.context() as later:  # the sweeper's clock, once the token has expired
        later.setattr(module, "time", SimpleNamespace(time=lambda: row["expires_at"] + 0.5))
        result = module.handler(scheduled, LambdaContext("connection-sweeper"))

    assert result == {"tenants": 1, "closed": 1, "failed": 0, "more": False}
    assert deleted(gateway) == {row["connection_id"]}
    assert not [item for item in table_items(realtime["ConnectionsTable"]) if item["pk"].startswith("CONN#")]
    assert "swept expired connections" in caplog.text
    assert token not in caplog.text


def test_scheduled_event_file_has_eventbridges_shape() -> None:
    event = load_event("connection-sweeper-scheduled")
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert (event["detail-type"], event["source"], event["detail"]) == ("Scheduled Event", "aws.events", {})
    assert event["resources"][0].startswith("arn:aws:events:us-east-1:123456789012:rule/")
