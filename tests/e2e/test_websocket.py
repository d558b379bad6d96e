"""The WebSocket API of DESIGN §5 through the running local stack, with real clients (issue #5).

Pushes come from the real ingest path: an EventBridge event put on the stack's bus with boto3,
routed by the local stack to the ingest function, which publishes to the subscribers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import jwt
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from devstack.demo.load import PushFeed
from tests.conftest import DEMO_USERS, TEST_SECRET, token_claims
from tests.e2e.conftest import RunningStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e

RETENTION_SECONDS = 4  # the short-retention stack's replay log


def access_token(stack: RunningStack, username: str) -> str:
    reply = httpx.post(f"{stack.base_url}/api/v1/auth/token",
                       data={"username": username, "password": DEMO_USERS[username][2]}, timeout=20)  # fmt: skip
    assert reply.status_code == 200, reply.text
    token: str = reply.json()["access_token"]
    return token


def ticket(stack: RunningStack, username: str) -> str:
    headers = {"Authorization": f"Bearer {access_token(stack, username)}"}
    reply = httpx.post(f"{stack.base_url}/api/v1/auth/ws-ticket", headers=headers, timeout=20)
    assert reply.status_code == 200, reply.text
    value: str = reply.json()["ticket"]
    return value


@contextmanager
def client(stack: RunningStack, username: str, *, token: str | None = None) -> Iterator[ClientConnection]:
    with connect(f"{stack.ws_url}?token={token or access_token(stack, username)}", open_timeout=20) as websocket:
        yield websocket


def send(websocket: ClientConnection, frame: dict[str, Any] | str) -> None:
    websocket.send(frame if isinstance(frame, str) else json.dumps(frame))


def receive(websocket: ClientConnection, timeout: float = 15) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(websocket.recv(timeout=timeout))
    return message


def receive_until(websocket: ClientConnection, wanted: str, timeout: float = 15) -> dict[str, Any]:
    """The next message of type `wanted`, skipping others (snapshots)."""
    deadline = time.monotonic() + timeout
    while True:
        message = receive(websocket, max(0.1, deadline - time.monotonic()))
        if message.get("type") == wanted:
            return message


def nothing_arrives(websocket: ClientConnection, within: float = 2.0) -> bool:
    try:
        websocket.recv(timeout=within)
    except TimeoutError:
        return True
    return False


def subscribe(websocket: ClientConnection, *channels: str, since: dict[str, int] | None = None) -> dict[str, Any]:
    send(websocket, {"action": "subscribe", "channels": list(channels), **({"since": since} if since else {})})
    return receive_until(websocket, "subscribed")


def put_trade(stack: RunningStack, tenant_id: str, trade_id: str | None = None, executed_at: str | None = None) -> str:
    trade_id = trade_id or f"E2E-{uuid.uuid4().hex[:12]}"
    detail = {"tenant_id": tenant_id, "trade_id": trade_id, "symbol": "AAPL", "side": "buy", "quantity": 10,
              "price": 228.5, "fees": 1.14, "status": "filled", "order_type": "market",
              "executed_at": executed_at or datetime.now(UTC).isoformat(), "strategy": "e2e"}  # fmt: skip
    events = boto3.client("events", endpoint_url=stack.aws_endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    entry = {"Source": "alphapulse.trading", "DetailType": "TradeExecuted", "Detail": json.dumps(detail),
             "EventBusName": stack.outputs["EventBusName"]}  # fmt: skip
    result = events.put_events(Entries=[entry])
    assert result["FailedEntryCount"] == 0, result
    return trade_id


def websocket_connections(stack: RunningStack, username: str) -> int:
    headers = {"Authorization": f"Bearer {access_token(stack, username)}"}
    reply = httpx.get(f"{stack.base_url}/api/v1/system", headers=headers, timeout=20)
    assert reply.status_code == 200, reply.text
    count: int = reply.json()["components"]["websocket"]["connections"]
    return count


def short_lived_token(username: str, seconds: int) -> str:
    """An access token like the auth function's, expiring in `seconds` (the stack shares TEST_SECRET)."""
    tenant, role, _ = DEMO_USERS[username]
    claims = token_claims(username=username, tenant_id=tenant, role=role, lifetime=seconds)
    return jwt.encode(claims, TEST_SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def tuned_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A second stack: a replay log of a few seconds, and $disconnect lost for dropped connections."""
    stack = start_stack(
        logs=tmp_path_factory.mktemp("tuned"),
        REPLAY_RETENTION_SECONDS=str(RETENTION_SECONDS),
        WS_LOSE_DISCONNECT_ON_DROP="1",
    )
    yield stack
    stop_stack(stack)


# --- connecting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 401),
        ("?token=", 401),
        ("?token=not-a-jwt", 401),
        ("?ticket=unknown-ticket", 401),
        ("?token=a&ticket=b", 401),
    ],
)
def test_connect_refused_without_a_valid_credential(local_stack: RunningStack, query: str, status: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{local_stack.ws_url}{query}", open_timeout=20)
    assert refused.value.response.status_code == status


def test_connect_refused_with_a_refresh_token_or_a_foreign_signature(local_stack: RunningStack) -> None:
    form = {"username": "trader", "password": DEMO_USERS["trader"][2]}
    refresh = httpx.post(f"{local_stack.base_url}/api/v1/auth/token", data=form).json()["refresh_token"]
    forged = jwt.encode({**jwt.decode(short_lived_token("trader", 600), options={"verify_signature": False})},
                        "another-secret-of-sufficient-length-1234", algorithm="HS256")  # fmt: skip
    for token in (refresh, forged, short_lived_token("trader", -5)):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{local_stack.ws_url}?token={token}", open_timeout=20)
        assert refused.value.response.status_code == 401


def test_ticket_is_single_use(local_stack: RunningStack) -> None:
    value = ticket(local_stack, "trader")
    with connect(f"{local_stack.ws_url}?ticket={value}", open_timeout=20) as websocket:
        send(websocket, {"action": "ping"})
        assert receive(websocket) == {"type": "pong"}
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{local_stack.ws_url}?ticket={value}", open_timeout=20)
    assert refused.value.response.status_code == 401


# --- the protocol -----------------------------------------------------------------------------


def test_subscribe_unsubscribe_and_ping(local_stack: RunningStack) -> None:
    with client(local_stack, "trader") as websocket:
        assert subscribe(websocket, "trades", "alerts")["channels"] == ["trades", "alerts"]
        send(websocket, {"action": "unsubscribe", "channels": ["trades"]})
        assert receive_until(websocket, "unsubscribed")["channels"] == ["trades"]
        send(websocket, {"action": "ping"})
        assert receive_until(websocket, "pong") == {"type": "pong"}
        put_trade(local_stack, "default")
        assert nothing_arrives(websocket), "a trade reached a client that unsubscribed from trades"


def test_viewer_is_forbidden_alerts_and_system_but_gets_the_rest(local_stack: RunningStack) -> None:
    with client(local_stack, "viewer") as websocket:
        send(websocket, {"action": "subscribe", "channels": ["alerts", "trades", "system", "metrics"]})
        replies = [receive(websocket) for _ in range(3)]
        errors = sorted((r["channel"], r["code"]) for r in replies if r["type"] == "error")
        assert errors == [("alerts", "forbidden"), ("system", "forbidden")]
        (subscribed,) = [r for r in replies if r["type"] == "subscribed"]
        assert subscribed["channels"] == ["trades", "metrics"]
        send(websocket, {"action": "ping"})
        assert receive_until(websocket, "pong") == {"type": "pong"}  # the errors left the connection open


EITHER = {"bad_request", "unknown_action"}  # DESIGN §5 allows both for a frame without a usable action


@pytest.mark.parametrize(
    ("frame", "codes"),
    [
        ("not json", EITHER),
        ("[1, 2]", EITHER),
        ({"channels": ["trades"]}, EITHER),
        ({"action": 7}, EITHER),
        ({"action": "dance"}, {"unknown_action"}),
        ({"action": "subscribe", "channels": []}, {"bad_request"}),
        ({"action": "subscribe", "channels": "trades"}, {"bad_request"}),
        ({"action": "subscribe", "channels": [1]}, {"bad_request"}),
        ({"action": "subscribe", "channels": ["weather"]}, {"unknown_channel"}),
        ({"action": "unsubscribe"}, {"bad_request"}),
    ],
)
def test_bad_frames_get_an_error_and_keep_the_connection(
    local_stack: RunningStack, frame: dict[str, Any] | str, codes: set[str]
) -> None:
    with client(local_stack, "admin") as websocket:
        send(websocket, frame)
        reply = receive(websocket)
        assert reply["type"] == "error" and reply["code"] in codes and reply["message"], reply
        send(websocket, {"action": "ping"})
        assert receive(websocket) == {"type": "pong"}


# --- fan-out ----------------------------------------------------------------------------------


def test_a_push_reaches_exactly_the_subscribers_of_its_tenant_and_channel(local_stack: RunningStack) -> None:
    with (
        client(local_stack, "trader") as trader,
        client(local_stack, "viewer") as viewer,
        client(local_stack, "admin") as alerts_only,
        client(local_stack, "acme-admin") as acme,
    ):
        for websocket in (trader, viewer, acme):
            subscribe(websocket, "trades")
        subscribe(alerts_only, "alerts")
        trade_id = put_trade(local_stack, "default")
        for websocket in (trader, viewer):
            push = receive_until(websocket, "trade")
            assert push["channel"] == "trades" and push["data"]["trade_id"] == trade_id, push
            assert isinstance(push["seq"], int) and push["timestamp"]
        assert nothing_arrives(acme), "a default-tenant trade reached the acme tenant"
        assert nothing_arrives(alerts_only, 0.5), "a trade reached a client subscribed to alerts only"
        acme_trade = put_trade(local_stack, "acme")
        assert receive_until(acme, "trade")["data"]["trade_id"] == acme_trade
        assert nothing_arrives(trader, 1.0) and nothing_arrives(viewer, 0.5)


def test_a_duplicate_event_is_pushed_once(local_stack: RunningStack) -> None:
    with client(local_stack, "trader") as websocket:
        subscribe(websocket, "trades")
        executed_at = datetime.now(UTC).isoformat()
        trade_id = put_trade(local_stack, "default", executed_at=executed_at)
        put_trade(local_stack, "default", trade_id, executed_at)  # the same event, delivered again
        put_trade(local_stack, "default", trade_id, executed_at)
        assert receive_until(websocket, "trade")["data"]["trade_id"] == trade_id
        assert nothing_arrives(websocket, 3.0), "the same trade was pushed twice"


def test_a_client_gone_without_a_close_frame_is_removed_on_the_next_push(
    tuned_stack: RunningStack,
) -> None:
    """The stack loses $disconnect for a dropped TCP connection (API Gateway's is best effort)."""
    stack = tuned_stack
    with client(stack, "trader") as witness, client(stack, "trader") as dropped:
        subscribe(witness, "trades")
        subscribe(dropped, "trades")
        before = websocket_connections(stack, "admin")
        dropped.socket.shutdown(socket.SHUT_RDWR)  # no close frame: the TCP connection just ends
        time.sleep(1)
        assert websocket_connections(stack, "admin") == before, "$disconnect ran: the 410 path is not exercised"
        trade_id = put_trade(stack, "default")
        assert receive_until(witness, "trade")["data"]["trade_id"] == trade_id  # the others still get it
        deadline = time.monotonic() + 15
        while websocket_connections(stack, "admin") != before - 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert websocket_connections(stack, "admin") == before - 1


# --- resume -----------------------------------------------------------------------------------


def test_eight_concurrent_publishers_reach_every_subscriber_in_seq_order(local_stack: RunningStack) -> None:
    # Given 3 subscribers of `trades`, and 8 publishers putting 400 trades on the bus at once (the stack runs
    # up to 4 warm workers of the ingest function, so the events are ingested and queued concurrently)
    with (
        client(local_stack, "trader") as first,
        client(local_stack, "trader") as second,
        client(local_stack, "admin") as third,
    ):
        subscribers = (first, second, third)
        for websocket in subscribers:
            subscribe(websocket, "trades")
        with ThreadPoolExecutor(max_workers=3) as readers, ThreadPoolExecutor(max_workers=8) as publishers:
            # Read while they publish, as a dashboard does (a client that stops reading stalls its socket)
            reading = [
                readers.submit(lambda ws: [receive_until(ws, "trade", timeout=90) for _ in range(400)], websocket)
                for websocket in subscribers
            ]
            put = list(publishers.map(lambda _: put_trade(local_stack, "default"), range(400)))
            received_by_each = [future.result() for future in reading]
        # Then each receives all 400, seq strictly +1: no gap, no duplicate, none out of order
        for received in received_by_each:
            seqs = [m["seq"] for m in received]
            assert seqs == list(range(seqs[0], seqs[0] + 400))
            assert sorted(m["data"]["trade_id"] for m in received) == sorted(put)
        assert nothing_arrives(first, 1.0), "a push arrived twice"


def test_a_client_resumes_on_a_busy_channel_without_a_gap_or_a_resync(local_stack: RunningStack) -> None:
    # Given a channel loaded as fast as the local stack carries it (pushes queued at 100/s straight on the
    # push queue: the bus and ingest top out lower on two cores), and a client that drops for a second
    sqs = boto3.client("sqs", endpoint_url=local_stack.aws_endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    with client(local_stack, "trader") as witness, ThreadPoolExecutor(max_workers=1) as reader:
        subscribe(witness, "trades")
        feed = PushFeed(sqs, local_stack.outputs["PushQueueUrl"], rate=100)
        # The witness reads all along (a client that stops reading stalls its socket), until the feed's last push
        carried = reader.submit(read_trades_until, witness, feed)
        feed.start()
        try:
            with client(local_stack, "trader") as dropping:
                subscribe(dropping, "trades")
                seen = [receive_until(dropping, "trade") for _ in range(30)]
            time.sleep(1.0)
            with client(local_stack, "trader") as back:
                subscribe(back, "trades", since={"trades": seen[-1]["seq"]})
                resumed = [receive(back, timeout=30) for _ in range(150)]
        finally:
            sent = feed.stop()
        # Then it gets every push it missed, in order, and goes on live: nothing twice, no resync_required
        assert all(m["type"] == "trade" for m in resumed), [m for m in resumed if m["type"] != "trade"][:3]
        assert [m["seq"] for m in resumed] == list(range(seen[-1]["seq"] + 1, seen[-1]["seq"] + 151))
        # while the channel carried every push queued, in order,
        pushes, rate = carried.result(timeout=120)
        assert [m["data"]["trade_id"] for m in pushes] == sent
        assert [m["seq"] for m in pushes] == list(range(pushes[0]["seq"], pushes[0]["seq"] + len(sent)))
        # at the rate it was queued (100/s, measured over the few seconds of the feed: 106/s here)
        assert rate >= 85, f"the channel carried only {rate:.0f} pushes/s"


def read_trades_until(websocket: ClientConnection, feed: PushFeed) -> tuple[list[dict[str, Any]], float]:
    """The trade pushes a client receives until it has every one the feed queued (once stopped); and their rate."""
    pushes: list[dict[str, Any]] = []
    arrivals: list[float] = []
    started = time.monotonic()
    while not (feed.stopped and len(pushes) >= len(feed.sent)):
        # Short waits: the feed may stop just after the last push arrived, and then none follows
        try:
            pushes.append(receive_until(websocket, "trade", timeout=0.5))
        except TimeoutError:
            if time.monotonic() - (arrivals[-1] if arrivals else started) > 60:
                raise
            continue
        arrivals.append(time.monotonic())
    return pushes, (len(arrivals) - 1) / max(arrivals[-1] - arrivals[0], 1e-6)


@pytest.fixture(scope="module")
def throttling_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A third stack whose management API throttles 20 % of the posts to connections (429), and whose audiences
    of more than two connections are sharded through the FIFO fan-out queue and FanoutFunction."""
    stack = start_stack(
        logs=tmp_path_factory.mktemp("throttling"), DEVSTACK_FAULTS="connections-429:0.2", FANOUT_SHARD_THRESHOLD="2"
    )
    yield stack
    stop_stack(stack)


class ResumingClient:
    """A dashboard: subscribed to `trades`, reading on its own thread; closed by the server, it reconnects and
    resumes with `since`, as the protocol asks. Records every trade seq it got and every other message."""

    def __init__(self, stack: RunningStack, username: str) -> None:
        self.stack, self.username = stack, username
        self.seqs: list[int] = []
        self.other: list[dict[str, Any]] = []
        self.reconnects = 0
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._subscribed.wait(30), "the client never got `subscribed`"

    def _run(self) -> None:
        while not self._stop.is_set():
            # Closed before its first push, it resumes from 0: this stack's `trades` channel starts empty
            since = {"trades": self.seqs[-1] if self.seqs else 0} if self._subscribed.is_set() else None
            try:
                with client(self.stack, self.username) as websocket:
                    subscribe(websocket, "trades", since=since)
                    self._subscribed.set()
                    while not self._stop.is_set():
                        try:
                            message = receive(websocket, timeout=0.2)
                        except TimeoutError:
                            continue
                        if message["type"] == "trade":
                            self.seqs.append(message["seq"])
                        else:
                            self.other.append(message)
            except (ConnectionClosed, OSError):
                self.reconnects += 1  # closed by the server (or the connection failed): resume

    def wait_for(self, seq: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while (not self.seqs or self.seqs[-1] < seq) and time.monotonic() < deadline:
            time.sleep(0.05)
        return bool(self.seqs) and self.seqs[-1] >= seq

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_with_a_fifth_of_the_sends_throttled_every_subscriber_gets_every_push_in_order(
    throttling_stack: RunningStack,
) -> None:
    stack = throttling_stack
    sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    clients = [ResumingClient(stack, name) for name in ("trader", "viewer", "admin")]
    try:
        feed = PushFeed(sqs, stack.outputs["PushQueueUrl"], rate=50).start()
        while len(feed.sent) < 300:
            time.sleep(0.05)
        sent = feed.stop()
        # This stack's `trades` channel carries only these: its seqs are 1 to 300
        for each in clients:
            assert each.wait_for(len(sent), timeout=90), f"{each.username} stopped at {each.seqs[-1:]}"
    finally:
        for each in clients:
            each.stop()
    # Every subscriber has every push, once each, in order: live, or after a close and a resume
    for each in clients:
        assert each.seqs == list(range(1, len(sent) + 1)), each.username
        assert not [m for m in each.other if m["type"] == "resync_required"], each.username


def test_resume_replays_every_missed_push_in_order_then_live(local_stack: RunningStack) -> None:
    with client(local_stack, "trader") as websocket:
        subscribe(websocket, "trades")
        put_trade(local_stack, "default")
        last_seen = receive_until(websocket, "trade")
    missed = [put_trade(local_stack, "default") for _ in range(50)]
    with client(local_stack, "trader") as websocket:
        time.sleep(1)  # let the ingest of the 50 finish before resuming (live pushes are not yet wanted)
        subscribe(websocket, "trades", since={"trades": last_seen["seq"]})
        replayed = [receive_until(websocket, "trade") for _ in range(50)]
        # Every missed push, once, in seq order (EventBridge keeps no order: ingest may take them in any)
        assert sorted(m["data"]["trade_id"] for m in replayed) == sorted(missed)
        assert [m["seq"] for m in replayed] == list(range(last_seen["seq"] + 1, last_seen["seq"] + 51))
        live = put_trade(local_stack, "default")
        push = receive_until(websocket, "trade")
        assert (push["data"]["trade_id"], push["seq"]) == (live, last_seen["seq"] + 51)
        assert nothing_arrives(websocket, 1.5), "a push arrived twice"


def test_resume_past_the_retention_asks_for_a_resync(tuned_stack: RunningStack) -> None:
    stack = tuned_stack
    with client(stack, "trader") as websocket:
        subscribe(websocket, "trades")
        put_trade(stack, "default")
        first = receive_until(websocket, "trade")
    time.sleep(RETENTION_SECONDS + 1.5)
    put_trade(stack, "default")  # the log now starts after `first`'s successor was kept too long ago
    time.sleep(1)
    with client(stack, "trader") as websocket:
        send(websocket, {"action": "subscribe", "channels": ["trades"], "since": {"trades": first["seq"] - 1}})
        replies = [receive(websocket), receive(websocket)]
        assert {"type": "resync_required", "channel": "trades"} in replies, replies
        assert any(r["type"] == "subscribed" for r in replies), replies


# --- token expiry -----------------------------------------------------------------------------


def test_pushes_stop_and_the_connection_closes_when_the_token_expires(local_stack: RunningStack) -> None:
    with client(local_stack, "trader", token=short_lived_token("trader", 3)) as websocket:
        subscribe(websocket, "trades")
        trade_id = put_trade(local_stack, "default")
        assert receive_until(websocket, "trade")["data"]["trade_id"] == trade_id
        time.sleep(3.5)
        put_trade(local_stack, "default")
        with pytest.raises(ConnectionClosed):
            while True:
                message = receive(websocket, timeout=15)
                assert message["type"] != "trade", f"a push reached a connection whose token expired: {message}"


def test_a_quiet_connection_is_closed_by_the_server_soon_after_its_token_expires(local_stack: RunningStack) -> None:
    token = short_lived_token("trader", 3)
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    with client(local_stack, "trader", token=token) as websocket:
        # No frame and no push: only the sweeper (every second on this stack) can notice the expiry.
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=15)
        closed_at = time.time()
    assert closed_at >= expires_at, "closed before the token expired"
    assert closed_at < expires_at + 5, f"closed {closed_at - expires_at:.1f} s after the token expired"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000  # the server's close: DELETE @connections


# --- hostile frames ---------------------------------------------------------------------------


def test_a_thousand_hostile_frames_leave_the_connection_usable(local_stack: RunningStack) -> None:
    import random

    rng = random.Random(5)
    shapes = [
        lambda: "{" * rng.randint(1, 50),
        lambda: json.dumps({"action": "subscribe", "channels": list(range(rng.randint(1000, 5000)))}),
        lambda: "x" * 200_000,
        lambda: json.dumps({"action": rng.choice([None, 1, [], {}, True, "x" * 300])}),
        lambda: json.dumps({"action": "subscribe", "channels": [rng.choice(["trades", 1, None, "", "ü" * 40])]}),
        lambda: json.dumps({"action": "subscribe", "channels": ["trades"],
                            "since": rng.choice([5, "x", [], {"trades": "a"}, {"trades": -1}])}),
        lambda: json.dumps({"action": "unsubscribe", "channels": rng.choice([None, "trades", [["a"]]])}),
        lambda: json.dumps(rng.choice([[], "", 0, None, 1e308])),
        lambda: "\x00\xff" * rng.randint(1, 100),
        lambda: json.dumps({"action": "ping", "extra": "y" * rng.randint(0, 10_000)}),
    ]  # fmt: skip
    with client(local_stack, "admin") as websocket:
        for _ in range(1000):
            send(websocket, rng.choice(shapes)())
        send(websocket, {"action": "ping"})
        receive_until(websocket, "pong", timeout=120)
    assert httpx.get(f"{local_stack.base_url}/api/v1/health", timeout=20).json() == {"status": "ok"}
