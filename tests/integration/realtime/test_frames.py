"""Client frames through the ws_message handler on moto: replies, permissions, errors that keep the
connection, expiry, current state of portfolio/system, and resume (replay, resync, concurrent publishes)."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from alphapulse.auth.models import permissions_of
from alphapulse.realtime import wiring
from alphapulse.realtime.logic import broadcast, subscriptions
from alphapulse.realtime.models import Connection
from alphapulse.realtime.protocol import PushRequest
from alphapulse.realtime.repositories.channels import ChannelRepository
from alphapulse.realtime.repositories.connections import ConnectionRepository
from devstack.runtime.handlers import LambdaContext, load_handler
from tests.conftest import RestClient, load_event
from tests.fakes import FakeManagementApi
from tests.integration.realtime.conftest import access_token, table_items

TRADE = {"trade_id": "T-1", "symbol": "AAPL", "side": "buy", "quantity": 10, "price": 228.5}


def connect(
    table: str, connection_id: str, role: str = "trader", tenant: str = "default", *, lifetime: int = 900
) -> None:
    now = int(time.time())
    ConnectionRepository(table).put(
        Connection(
            connection_id,
            tenant,
            f"{tenant}-{role}",
            frozenset(permissions_of(role)),
            now + lifetime,
            now,
            now + lifetime,
        )
    )


def send(connection_id: str, body: Any, *, base64_body: bool = False) -> None:
    event = load_event("ws-default")
    event["requestContext"]["connectionId"] = connection_id
    text = body if isinstance(body, str) else json.dumps(body)
    event["body"] = base64.b64encode(text.encode()).decode() if base64_body else text
    event["isBase64Encoded"] = base64_body
    assert load_handler("functions/ws_message")(event, LambdaContext("ws-message")) == {"statusCode": 200}


def subscribe(connection_id: str, *channels: str, since: dict[str, int] | None = None) -> None:
    send(connection_id, {"action": "subscribe", "channels": list(channels), **({"since": since} if since else {})})


def publish(channel: str = "trades", n: int = 1, tenant: str = "default") -> None:
    type_ = {"trades": "trade", "alerts": "alert", "metrics": "metrics", "portfolio": "portfolio", "system": "system"}[
        channel
    ]
    for i in range(n):
        wiring.publish(tenant, channel, type_, {**TRADE, "n": i}, push_id=f"{channel}-{time.time_ns()}-{i}")


@pytest.fixture
def table(realtime: dict[str, str]) -> str:
    return realtime["ConnectionsTable"]


def test_ping_answers_pong(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1")
    send("c1", {"action": "ping"})
    assert gateway.messages("c1") == [{"type": "pong"}]


def test_event_files_are_answered(table: str, gateway: FakeManagementApi) -> None:
    connection_id = load_event("ws-subscribe")["requestContext"]["connectionId"]
    connect(table, connection_id, "admin")
    for name in (
        "ws-subscribe",
        "ws-subscribe-resume",
        "ws-unsubscribe",
        "ws-ping",
        "ws-default",
        "ws-subscribe-portfolio",
    ):
        assert load_handler("functions/ws_message")(load_event(name), LambdaContext("ws-message")) == {
            "statusCode": 200
        }
    types = [m["type"] for m in gateway.messages(connection_id)]
    assert types[:2] == ["subscribed", "subscribed"] and "pong" in types and "unsubscribed" in types
    assert types.count("error") == 1 and {"portfolio", "system"} <= set(types)


def test_viewer_gets_forbidden_per_channel_and_the_rest_subscribed(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "v1", "viewer")
    subscribe("v1", "alerts", "trades", "system", "metrics")
    replies = gateway.messages("v1")
    assert replies == [
        {"type": "error", "code": "forbidden", "message": "Missing permission: view_alerts", "channel": "alerts"},
        {"type": "error", "code": "forbidden", "message": "Missing permission: view_system", "channel": "system"},
        {"type": "subscribed", "channels": ["trades", "metrics"]},
    ]
    subscribed = sorted(i["pk"].rsplit("#", 1)[1] for i in table_items(table) if i["sk"].startswith("SUB#"))
    assert subscribed == ["metrics", "trades"]
    publish("alerts")
    publish("trades")
    assert [m["type"] for m in gateway.messages("v1")[3:]] == ["trade"]


def test_unknown_channel_alone_gets_only_its_error(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1")
    subscribe("c1", "weather")
    send("c1", {"action": "ping"})
    assert gateway.messages("c1") == [
        {"type": "error", "code": "unknown_channel", "message": "No such channel", "channel": "weather"},
        {"type": "pong"},
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "bad_request"),
        ("[1, 2]", "bad_request"),
        ({"channels": ["trades"]}, "bad_request"),
        ({"action": 7}, "bad_request"),
        ({"action": "dance"}, "unknown_action"),
        ({"action": "subscribe", "channels": []}, "bad_request"),
        ({"action": "subscribe", "channels": [1]}, "bad_request"),
        ({"action": "subscribe", "channels": ["trades"], "since": {"trades": -1}}, "bad_request"),
        ({"action": "unsubscribe"}, "bad_request"),
        ("x" * 200_000, "too_large"),
    ],
)
def test_bad_frames_get_an_error_and_keep_the_connection(
    table: str, gateway: FakeManagementApi, body: Any, code: str
) -> None:
    connect(table, "c1")
    send("c1", body)
    send("c1", {"action": "ping"})
    error, pong = gateway.messages("c1")
    assert error["type"] == "error" and error["code"] == code and error["message"] and error["channel"] is None
    assert pong == {"type": "pong"}
    assert not gateway.deleted("c1")
    assert [i["sk"] for i in table_items(table)] == ["CONN"]  # nothing subscribed by a refused frame


def test_base64_frames_are_decoded(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1")
    send("c1", {"action": "ping"}, base64_body=True)
    assert gateway.messages("c1") == [{"type": "pong"}]


def test_unsubscribe_stops_pushes(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1")
    subscribe("c1", "trades", "alerts")
    send("c1", {"action": "unsubscribe", "channels": ["trades", "weather"]})
    publish("trades")
    publish("alerts")
    assert [m["type"] for m in gateway.messages("c1")] == ["subscribed", "error", "unsubscribed", "alert"]
    assert gateway.messages("c1")[2] == {"type": "unsubscribed", "channels": ["trades"]}


def test_frame_of_an_expired_connection_closes_it(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1", lifetime=-1)
    ChannelRepository(table).go_live("default", "trades", "c1", live_from=0, expires_at=int(time.time()) - 1)
    send("c1", {"action": "ping"})
    assert gateway.messages("c1") == []
    assert gateway.deleted("c1")
    assert table_items(table) == []


def test_frame_of_an_unknown_connection_closes_it(table: str, gateway: FakeManagementApi) -> None:
    send("ghost", {"action": "subscribe", "channels": ["trades"]})
    assert gateway.messages("ghost") == [] and gateway.deleted("ghost")
    assert table_items(table) == []


def test_client_gone_while_answering_is_forgotten(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1")
    subscribe("c1", "trades")
    gateway.closed.add("c1")
    send("c1", {"action": "ping"})
    assert table_items(table) == []


def test_a_frame_that_cannot_be_answered_closes_the_connection(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1")
    gateway.scripts["c1"] = [429] * 4  # every try of the pong
    send("c1", {"action": "ping"})
    # The client would wait for an answer that never comes: closed instead, it reconnects
    assert gateway.deleted("c1") and table_items(table) == []


def test_a_catch_up_that_cannot_reach_its_connection_closes_it_and_its_channel_goes_on(
    table: str, gateway: FakeManagementApi
) -> None:
    connect(table, "c1")
    connect(table, "c2")
    subscribe("c2", "trades")
    publish("trades", 3)
    gateway.scripts["c1"] = [200] + [429] * 4  # `subscribed` goes out, then every try of the first replayed push
    subscribe("c1", "trades", since={"trades": 0})  # the publisher does not fail the catch-up (it would raise here)
    assert gateway.deleted("c1")
    assert [i for i in table_items(table) if i.get("connection_id") == "c1" or i["pk"] == "CONN#c1"] == []
    publish("trades")
    assert seqs(gateway, "c2") == [1, 2, 3, 4]


# --- current state of portfolio and system ---------------------------------------------------------


def store_portfolio_and_system(data_table: str) -> None:
    from alphapulse.portfolio.models import PortfolioSnapshot
    from alphapulse.portfolio.repositories import PortfolioRepository
    from alphapulse.system.models import TradingSystemStatus
    from alphapulse.system.repositories import SystemRepository

    now = datetime.now(UTC)
    PortfolioRepository(data_table).put_snapshot(
        "default",
        PortfolioSnapshot.model_validate(
            {
                "as_of": now,
                "cash": "1000.50",
                "metrics": {"sharpe_ratio": 1.2},
                "positions": [{"symbol": "AAPL", "quantity": 10, "entry_price": 200, "current_price": 228.5}],
            }
        ),
    )
    SystemRepository(data_table).put_status(
        "default",
        TradingSystemStatus.model_validate(
            {
                "cpu": {"usage_percent": 12.5, "cores": 8},
                "memory": {"total_mb": 16384, "used_mb": 8000, "percent": 48.8},
                "disk": {"total_gb": 500, "used_gb": 120.5, "percent": 24.1},
                "process": {"pid": 42, "memory_mb": 512.3, "threads": 17, "uptime_seconds": 3600},
                "reported_at": now,
            }
        ),
    )


def test_subscribe_to_portfolio_and_system_sends_the_current_state_with_the_current_seq(
    realtime: dict[str, str], gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = realtime["ConnectionsTable"]
    connect(table, "c1", "admin")
    subscribe("c1", "portfolio", "system")
    before = gateway.messages("c1")
    assert before[0] == {"type": "subscribed", "channels": ["portfolio", "system"]}
    assert (before[1]["type"], before[1]["seq"], before[1]["data"]["updated_at"]) == ("portfolio", 0, None)
    assert (before[2]["type"], before[2]["seq"], before[2]["data"]) == ("system", 0, None)

    store_portfolio_and_system(realtime["DataTable"])
    publish("portfolio", 2)
    connect(table, "c2", "admin")
    subscribe("c2", "portfolio", "system")
    _, portfolio, system = gateway.messages("c2")
    token = access_token("admin")
    rest_portfolio = RestClient("functions/portfolio", "portfolio").request("GET", "/api/v1/portfolio", token=token)
    assert (portfolio["type"], portfolio["channel"], portfolio["seq"]) == ("portfolio", "portfolio", 2)
    assert portfolio["data"] == rest_portfolio.json() and "history" not in portfolio["data"]
    monkeypatch.setenv("CONNECTIONS_TABLE", table)
    rest_system = RestClient("functions/system", "system").request_raw(
        "GET", "/api/v1/system", resource="/api/v1/system", token=token
    )
    assert (system["type"], system["seq"]) == ("system", 0)
    assert system["data"] == rest_system.json()["trading_system"] is not None
    # After the state, live pushes follow from the next seq.
    publish("portfolio")
    assert gateway.messages("c2")[-1]["seq"] == 3


def test_portfolio_resume_replays_when_the_log_reaches_back_else_sends_the_state(
    table: str, gateway: FakeManagementApi
) -> None:
    connect(table, "c1", "admin")
    publish("portfolio", 3)
    subscribe("c1", "portfolio", since={"portfolio": 1})
    assert [(m["type"], m["seq"], "n" in m["data"]) for m in gateway.messages("c1")[1:]] == [
        ("portfolio", 2, True),
        ("portfolio", 3, True),
    ]
    connect(table, "c2", "admin")
    subscribe("c2", "portfolio", since={"portfolio": 99})  # ahead of the channel: its state instead of a resync
    assert [(m["type"], m["seq"], "n" in m["data"]) for m in gateway.messages("c2")[1:]] == [("portfolio", 3, False)]


# --- resume ---------------------------------------------------------------------------------------------


def seqs(gateway: FakeManagementApi, connection_id: str, type_: str = "trade") -> list[int]:
    return [m["seq"] for m in gateway.messages(connection_id) if m["type"] == type_]


def test_resume_replays_missed_pushes_in_order_then_live(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1")
    publish("trades", 5)
    subscribe("c1", "trades", "alerts", since={"trades": 2, "alerts": 0})
    publish("trades")
    messages = gateway.messages("c1")
    assert messages[0] == {"type": "subscribed", "channels": ["trades", "alerts"]}
    assert seqs(gateway, "c1") == [3, 4, 5, 6]
    assert [m["data"]["n"] for m in messages[1:4]] == [2, 3, 4]


def test_resume_when_up_to_date_replays_nothing(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1")
    publish("trades", 3)
    subscribe("c1", "trades", since={"trades": 3})
    assert gateway.messages("c1") == [{"type": "subscribed", "channels": ["trades"]}]


def test_resume_past_the_retention_asks_for_a_resync(
    table: str, gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(table, "c1")
    old = wiring.dependencies().broadcaster
    stale = broadcast.Broadcaster(
        old.channels, old.fanout, retention_seconds=60, shard_threshold=1000, clock=lambda: time.time() - 120
    )
    for n in range(3):  # logged two minutes ago, kept one
        stale.publish([PushRequest("default", "trades", "trade", TRADE, time.time())], batch_id=f"stale-{n}")
    publish("trades")  # seq 4, still in the log
    subscribe("c1", "trades", since={"trades": 1})
    publish("trades")
    assert gateway.messages("c1")[:2] == [
        {"type": "subscribed", "channels": ["trades"]},
        {"type": "resync_required", "channel": "trades"},
    ]
    assert seqs(gateway, "c1") == [5]  # live from the current seq, nothing replayed


@pytest.mark.parametrize("since", [7, 10**9])
def test_resume_ahead_of_the_channel_asks_for_a_resync(table: str, gateway: FakeManagementApi, since: int) -> None:
    connect(table, "c1")
    publish("trades", 2)
    subscribe("c1", "trades", since={"trades": since})
    publish("trades")
    assert [m["type"] for m in gateway.messages("c1")] == ["subscribed", "resync_required", "trade"]
    assert seqs(gateway, "c1") == [3]


def test_resume_further_back_than_the_replay_limit_asks_for_a_resync(
    table: str, gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscriptions, "REPLAY_LIMIT", 3)
    connect(table, "c1")
    publish("trades", 5)
    subscribe("c1", "trades", since={"trades": 1})
    assert [m["type"] for m in gateway.messages("c1")] == ["subscribed", "resync_required"]
    connect(table, "c2")
    subscribe("c2", "trades", since={"trades": 2})
    assert seqs(gateway, "c2") == [3, 4, 5]


def test_each_channel_of_a_frame_replays_at_most_the_limit(
    table: str, gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscriptions, "REPLAY_LIMIT", 2)
    connect(table, "c1")
    publish("trades", 3)
    publish("alerts", 2)
    subscribe("c1", "trades", "alerts", since={"trades": 0, "alerts": 0})
    # trades would replay 3, past the limit: that channel resyncs; alerts replays its 2
    assert [(m["type"], m.get("channel"), m.get("seq")) for m in gateway.messages("c1")] == [
        ("subscribed", None, None),
        ("resync_required", "trades", None),
        ("alert", "alerts", 1),
        ("alert", "alerts", 2),
    ]
    publish("trades")
    assert gateway.messages("c1")[-1]["seq"] == 4  # live from where it stood


def test_replay_out_of_time_sends_resync_required_and_goes_live(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1")
    publish("trades", 3)
    deps = wiring.dependencies()
    deps.catch_ups = subscriptions.CatchUp(
        ConnectionRepository(table),
        ChannelRepository(table),
        deps.api,
        snapshots={},
        replay_budget_seconds=-1,  # the catch-up's time is up before the first replayed push
    )
    deps.frames.handle("c1", json.dumps({"action": "subscribe", "channels": ["trades"], "since": {"trades": 0}}))
    publish("trades")
    assert [(m["type"], m.get("seq")) for m in gateway.messages("c1")] == [
        ("subscribed", None),
        ("resync_required", None),
        ("trade", 4),
    ]


def test_resume_across_a_publisher_that_died_before_logging_asks_for_a_resync(
    table: str, gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(table, "c1")
    publish("trades", 2)
    ChannelRepository(table).take_seqs("default", "trades", 1, batch_id="died")  # seq 3 taken, never logged
    subscribe("c1", "trades", since={"trades": 1})
    assert [m["type"] for m in gateway.messages("c1")] == ["subscribed", "resync_required"]


def publish_until(stop: threading.Event, published: list[int], pause: float = 0.0) -> None:
    while not stop.is_set():
        publish("trades")
        published.append(1)
        stop.wait(pause)


def test_resume_during_concurrent_publishes_gets_each_seq_once_in_order(table: str, gateway: FakeManagementApi) -> None:
    # A steady publisher (one push per 20 ms, 50/s, plus moto's own time): the subscribe must catch up exactly.
    connect(table, "c1")
    publish("trades", 3)
    stop, published = threading.Event(), []
    publisher = threading.Thread(target=publish_until, args=(stop, published, 0.02))
    publisher.start()
    try:
        while len(published) < 5:  # publishes are under way
            time.sleep(0.005)
        subscribe("c1", "trades", since={"trades": 2})
        settled = len(published)
        while len(published) < settled + 5:  # and go on after the subscription
            time.sleep(0.005)
    finally:
        stop.set()
        publisher.join()
    last = ChannelRepository(table).current_seq("default", "trades")
    assert seqs(gateway, "c1") == list(range(3, last + 1))


def test_subscribe_during_many_concurrent_publishers_gets_every_seq_once_in_order(
    table: str, gateway: FakeManagementApi
) -> None:
    # Three publishers flat out: the catch-up takes its turn in the channel's queue group between their pushes,
    # so it never gives up, and each seq arrives once, in order.
    connect(table, "c1")
    stop, published = threading.Event(), []
    publishers = [threading.Thread(target=publish_until, args=(stop, published)) for _ in range(3)]
    for publisher in publishers:
        publisher.start()
    try:
        while len(published) < 6:
            time.sleep(0.005)
        subscribe("c1", "trades", since={"trades": 0})
        settled = len(published)
        while len(published) < settled + 6:
            time.sleep(0.005)
    finally:
        stop.set()
        for publisher in publishers:
            publisher.join()
    assert "resync_required" not in [m["type"] for m in gateway.messages("c1")]
    assert seqs(gateway, "c1") == list(range(1, ChannelRepository(table).current_seq("default", "trades") + 1))


def publish_while_catching_up(monkeypatch: pytest.MonkeyPatch, *, times: int) -> list[threading.Thread]:
    """Make the next `times` reads of the current seq start a publish on another thread: a publish that comes
    between a subscribe's read and its going live. The threads, to join."""
    original, left, started = ChannelRepository.current_seq, [times], []

    def moving(self: ChannelRepository, tenant_id: str, channel: str) -> int:
        seq = original(self, tenant_id, channel)
        if left[0]:
            left[0] -= 1
            publisher = threading.Thread(
                target=wiring.publish, args=(tenant_id, channel, "trade", TRADE), kwargs={"push_id": f"race-{left[0]}"}
            )
            publisher.start()
            started.append(publisher)
        return seq

    monkeypatch.setattr(ChannelRepository, "current_seq", moving)
    return started


def test_subscribe_catches_up_with_publishes_made_while_it_replays(
    table: str, gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(table, "c1")
    publish("trades", 3)
    racing = publish_while_catching_up(monkeypatch, times=2)
    subscribe("c1", "trades", since={"trades": 1})
    for publisher in racing:
        publisher.join()
    publish("trades")
    # The racing publishes waited for the catch-up's turn in the queue group, then arrived live: each once, in order
    assert racing and seqs(gateway, "c1") == list(range(2, 3 + len(racing) + 2))
    assert "resync_required" not in [m["type"] for m in gateway.messages("c1")]


def test_publishes_that_keep_coming_never_make_a_subscribe_give_up(
    table: str, gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unserialised, a publish after every read of the seq made a subscribe give up (resync_required).
    connect(table, "c1")
    monkeypatch.setattr(subscriptions, "SUBSCRIBE_ATTEMPTS", 3)
    racing = publish_while_catching_up(monkeypatch, times=5)
    subscribe("c1", "trades")
    for publisher in racing:
        publisher.join()
    types = [m["type"] for m in gateway.messages("c1")]
    assert types[0] == "subscribed" and "resync_required" not in types
    assert seqs(gateway, "c1") == list(range(1, len(racing) + 1))


def conflicting_transactions(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """The next `times` TransactWriteItems are cancelled as DynamoDB cancels a transaction that meets another
    one on the same item (here: concurrent subscribes checking one channel counter)."""
    from alphapulse.aws.dynamodb import DynamoDBClient, DynamoDBError

    original, left = DynamoDBClient.call, [times]

    def call(self: DynamoDBClient, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "TransactWriteItems" and left[0] > 0:
            left[0] -= 1
            reasons = [{"Code": "None"} for _ in params["TransactItems"]]
            reasons[1] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
            raise DynamoDBError(
                "TransactionCanceledException", "conflict", 400, operation, {"CancellationReasons": reasons}
            )
        return original(self, operation, params)

    monkeypatch.setattr(DynamoDBClient, "call", call)
    return left


def test_subscribe_that_meets_a_concurrent_subscribe_retries_and_goes_live(
    table: str, gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(table, "c1")
    publish("trades", 2)
    left = conflicting_transactions(monkeypatch, 2)
    subscribe("c1", "trades", since={"trades": 1})
    assert left == [0]
    publish("trades")
    assert [m["type"] for m in gateway.messages("c1")] == ["subscribed", "trade", "trade"]
    assert seqs(gateway, "c1") == [2, 3]


def test_resume_across_a_too_large_push_asks_for_a_resync_and_subscribes(
    table: str, gateway: FakeManagementApi
) -> None:
    # A push over API Gateway's 128 KB reached its live subscribers as resync_required: so it does when replayed,
    # and the subscribe goes on.
    connect(table, "c1")
    publish("trades")
    wiring.publish("default", "trades", "trade", {**TRADE, "blob": "x" * (130 * 1024)}, push_id="large")
    publish("trades")
    subscribe("c1", "trades", "alerts", since={"trades": 0})
    publish("trades")
    publish("alerts")
    assert seqs(gateway, "c1") == [1, 3, 4]
    trades = [m for m in gateway.messages("c1") if m.get("channel") == "trades" and m["type"] != "subscribed"]
    assert [m.get("seq", m["type"]) for m in trades] == [1, "resync_required", 3, 4]
    assert [m["seq"] for m in gateway.messages("c1") if m["type"] == "alert"] == [1]


def test_current_state_too_large_to_send_asks_for_a_resync(table: str, gateway: FakeManagementApi) -> None:
    connect(table, "c1", role="admin")
    deps = wiring.dependencies()
    deps.catch_ups = subscriptions.CatchUp(
        ConnectionRepository(table),
        ChannelRepository(table),
        deps.api,
        snapshots={"system": lambda tenant: {"blob": "x" * (130 * 1024)}},
    )
    deps.frames.handle("c1", json.dumps({"action": "subscribe", "channels": ["system", "alerts"]}))
    publish("alerts")
    assert [m["type"] for m in gateway.messages("c1")] == ["subscribed", "resync_required", "alert"]


def test_subscribing_again_while_live_repeats_nothing(
    table: str, gateway: FakeManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(table, "c1")
    subscribe("c1", "trades")
    publish("trades", 2)
    racing = publish_while_catching_up(monkeypatch, times=1)
    subscribe("c1", "trades", since={"trades": 2})
    for publisher in racing:
        publisher.join()
    publish("trades")
    assert seqs(gateway, "c1") == [1, 2, 3, 4]


class HeldQueue:
    """The push queue with its publisher late: what is sent waits until `release`, then runs in order."""

    def __init__(self) -> None:
        self.held: list[tuple[str, str, str]] = []

    def send(self, tenant_id: str, channel: str, body: str, *, deduplication_id: str) -> None:
        self.held.append((tenant_id, channel, body))

    def release(self) -> None:
        from alphapulse.realtime.logic.publisher import Record, process

        deps = wiring.dependencies()
        records = [Record(f"m{n}", f"{t}#{c}", body) for n, (t, c, body) in enumerate(self.held)]
        self.held.clear()
        assert process(records, deps.broadcaster, deps.catch_ups, seconds_left=lambda: 30.0) == []


def test_an_unsubscribe_that_overtakes_its_subscribe_s_catch_up_still_wins(
    table: str, gateway: FakeManagementApi
) -> None:
    # Given a subscribe whose catch-up is still queued when the client unsubscribes
    connect(table, "c1")
    deps = wiring.dependencies()
    held = HeldQueue()
    handler = subscriptions.FrameHandler(ConnectionRepository(table), ChannelRepository(table), deps.api, held)
    handler.handle("c1", json.dumps({"action": "subscribe", "channels": ["trades"]}))
    handler.handle("c1", json.dumps({"action": "unsubscribe", "channels": ["trades"]}))
    # When the publisher gets to them, in order
    held.release()
    publish("trades")
    # Then the connection is not subscribed: the unsubscribe took its turn after the catch-up
    assert [m["type"] for m in gateway.messages("c1")] == ["subscribed", "unsubscribed"]


def test_a_subscribe_whose_catch_up_cannot_be_queued_closes_the_connection(
    table: str, gateway: FakeManagementApi
) -> None:
    class Down:
        def send(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("SQS unreachable")

    connect(table, "c1")
    handler = subscriptions.FrameHandler(
        ConnectionRepository(table), ChannelRepository(table), wiring.dependencies().api, Down()
    )
    handler.handle("c1", json.dumps({"action": "subscribe", "channels": ["trades"]}))
    assert [m["type"] for m in gateway.messages("c1")] == ["subscribed"]
    assert gateway.deleted("c1") and ConnectionRepository(table).get("c1") is None


def test_pushes_published_between_subscribed_and_the_catch_up_are_replayed(
    table: str, gateway: FakeManagementApi
) -> None:
    # Given a subscribe without `since`, answered, whose catch-up is still queued while 3 pushes are published
    connect(table, "c1")
    publish("trades", 2)  # before the subscribe: not owed
    deps = wiring.dependencies()
    held = HeldQueue()
    handler = subscriptions.FrameHandler(ConnectionRepository(table), ChannelRepository(table), deps.api, held)
    handler.handle("c1", json.dumps({"action": "subscribe", "channels": ["trades"]}))
    publish("trades", 3)
    # When the catch-up runs, then a live push
    held.release()
    publish("trades")
    # Then the client has every push after its `subscribed`, once each, in order
    assert gateway.messages("c1")[0] == {"type": "subscribed", "channels": ["trades"]}
    assert seqs(gateway, "c1") == [3, 4, 5, 6]
