"""Fixtures of the real-time tests: the template's tables in moto, the WebSocket functions' settings, and
the fake management API and the push queue run inline (tests.fakes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from alphapulse.auth.logic.tokens import issue_token
from alphapulse.realtime import wiring
from alphapulse.realtime.repositories.connections import CONNECTED_TENANTS
from tests.conftest import reset_caches
from tests.fakes import FakeManagementApi, InlineChannelQueue


def clear_realtime_caches() -> None:
    from alphapulse.auth.logic import tokens

    reset_caches()
    tokens._verified.clear()


@pytest.fixture
def realtime(
    aws: dict[str, str], gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """moto with the template's tables, and the settings the WebSocket functions get, pointed at the fake API."""
    monkeypatch.setenv("CONNECTIONS_TABLE", aws["ConnectionsTable"])
    monkeypatch.setenv("WEBSOCKET_ENDPOINT", gateway.endpoint)
    monkeypatch.delenv("FANOUT_QUEUE_URL", raising=False)
    clear_realtime_caches()
    with wiring.dependencies.override(wiring.RealtimeDependencies(queue=InlineChannelQueue())):
        yield aws
    clear_realtime_caches()


def access_token(role: str = "trader", tenant: str = "default", *, now: int | None = None) -> str:
    return issue_token(typ="access", username=f"{tenant}-{role}", tenant_id=tenant, role=role, session_id="s", now=now)[
        0
    ]


def table_items(table: str, *, listings: bool = False) -> list[dict[str, Any]]:
    """Every item of the table; the connected-tenant listings (which outlive connections) only if asked."""
    import boto3

    from alphapulse.aws.dynamodb import from_item

    client = boto3.client("dynamodb", region_name="us-east-1")
    items = [from_item(item) for item in client.scan(TableName=table).get("Items", [])]
    return [item for item in items if listings or item["pk"] != CONNECTED_TENANTS]
