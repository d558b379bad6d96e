"""Client frames of an open WebSocket connection: subscribe (with resume), unsubscribe, ping.

Every reply goes through the management API (post_to_connection), in order, from this invocation:
a subscribe answers with several messages (errors, `subscribed`, replayed pushes or the current state),
which one route response could not carry. An error never closes the connection; a connection whose
lifetime has ended is closed at its next frame.

Subscribing to a channel holds the channel's lock, as every publish does (`broadcast.channel_lock`):
read the channel's current seq C, send what the client is missing up to C (the replay log after
`since`, or the current state for `portfolio` and `system`), then subscribe "live from C" (see
`ChannelRepository.go_live`). No publish runs meanwhile, so once live, pushes after C arrive from the
publishers, in order; everything up to C came from here, first. So each seq arrives once, in order,
before live pushes. (Without the lock a publish could land meanwhile: the condition on C, the retry
from the log and the "gave up catching up" path below remain for a lock whose lease ran out.)
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alphapulse.aws.management_api import MAX_MESSAGE_BYTES, GoneError, ManagementApiClient, MessageTooLargeError
from alphapulse.core.errors import DataAccessError
from alphapulse.core.observability import get_logger
from alphapulse.realtime.logic.broadcast import channel_lock
from alphapulse.realtime.models import Connection, GoLive, LogEntry
from alphapulse.realtime.protocol import (
    CHANNEL_PERMISSIONS,
    PONG,
    SNAPSHOT_CHANNELS,
    FrameError,
    Ping,
    Subscribe,
    Unsubscribe,
    encode,
    error,
    parse_frame,
    push,
    resync_required,
    subscribed,
    unsubscribed,
)
from alphapulse.realtime.repositories import ChannelRepository, ConnectionRepository

REPLAY_LIMIT = 500  # pushes replayed per frame, all channels together; past it, resync_required
REPLAY_BUDGET_SECONDS = 10.0  # a frame's replay stops here (resync_required), well within the function's timeout
SUBSCRIBE_ATTEMPTS = 20  # each failed attempt means a publish landed meanwhile
# A publish takes its seq, then logs it: a replay that finds entries missing waits this long for them (about
# half a second in all) before it concludes that they aged out or that their publisher died.
LOG_WAITS = (0.02, 0.05, 0.1, 0.15, 0.2)
CONFLICT_BACKOFF_SECONDS = 0.05

Snapshot = Callable[[str], Any]  # tenant id -> the channel's current state


@dataclass
class _Budget:
    """What one frame may still replay: until `deadline` (clock time), at most `pushes` more."""

    deadline: float
    pushes: int


class FrameHandler:
    """Handles the frames of one function instance's connections."""

    def __init__(
        self,
        connections: ConnectionRepository,
        channels: ChannelRepository,
        api: ManagementApiClient,
        *,
        snapshots: Mapping[str, Snapshot],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        replay_budget_seconds: float = REPLAY_BUDGET_SECONDS,
    ) -> None:
        self.connections = connections
        self.replay_budget_seconds = replay_budget_seconds
        self.channels = channels
        self.api = api
        self.snapshots = snapshots
        self.clock = clock
        self.sleep = sleep

    def handle(self, connection_id: str, body: str | bytes | None) -> None:
        """Answer one frame."""
        connection = self.connections.get(connection_id)
        if connection is None or connection.expired(self.clock()):
            self._close(connection_id, connection)
            return
        try:
            try:
                frame = parse_frame(body)
            except FrameError as exc:
                self._send(connection_id, error(exc.code, exc.message, exc.channel))
                return
            if isinstance(frame, Ping):
                self._send(connection_id, PONG)
            elif isinstance(frame, Subscribe):
                self._subscribe(connection, frame)
            elif isinstance(frame, Unsubscribe):
                self._unsubscribe(connection, frame)
        except GoneError:
            # The client left while we were answering.
            self.connections.remove(connection_id, connection.tenant_id)

    def _subscribe(self, connection: Connection, frame: Subscribe) -> None:
        permitted = []
        for channel in frame.channels:
            if channel not in CHANNEL_PERMISSIONS:
                self._send(connection.connection_id, error("unknown_channel", "No such channel", channel))
            elif CHANNEL_PERMISSIONS[channel] not in connection.permissions:
                self._send(
                    connection.connection_id,
                    error("forbidden", f"Missing permission: {CHANNEL_PERMISSIONS[channel]}", channel),
                )
            else:
                permitted.append(channel)
        if not permitted:
            return
        self._send(connection.connection_id, subscribed(permitted))
        budget = _Budget(deadline=self.clock() + self.replay_budget_seconds, pushes=REPLAY_LIMIT)
        for channel in permitted:
            if self._go_live(connection, channel, frame.since.get(channel), budget) is GoLive.GONE:
                return

    def _go_live(self, connection: Connection, channel: str, since: int | None, budget: _Budget) -> GoLive:
        # Under the channel's lock no publish runs: what the log holds up to the current seq is all there is, and
        # the subscription goes live from it before the next publish can take a seq.
        with channel_lock(self.channels, connection.tenant_id, channel):
            return self._catch_up(connection, channel, since, budget)

    def _catch_up(self, connection: Connection, channel: str, since: int | None, budget: _Budget) -> GoLive:
        tenant_id, connection_id = connection.tenant_id, connection.connection_id
        position = since  # the last seq the client holds; None: nothing to resume from
        current = 0
        # Subscribing again to a channel that is live already: publishers must not deliver to the old
        # subscription while we replay, or the client gets pushes twice or out of order (or a stale state last).
        self.channels.unsubscribe(tenant_id, channel, connection_id)
        for _ in range(SUBSCRIBE_ATTEMPTS):
            current = self.channels.current_seq(tenant_id, channel)
            if position is not None and position != current:
                entries = self._log_between(tenant_id, channel, position, current, budget)
                if entries is None or not self._replay_all(connection_id, channel, entries, budget):
                    # Gone from the log, or more than this frame may replay: the client reloads from REST.
                    position = None
                    if channel not in SNAPSHOT_CHANNELS:
                        self._send(connection_id, resync_required(channel))
                else:
                    position = current
            if position is None:
                if channel in SNAPSHOT_CHANNELS:
                    self._send_snapshot(connection, channel, current)
                position = current
            outcome = self.channels.go_live(
                tenant_id, channel, connection_id, live_from=position, expires_at=connection.expires_at
            )
            if outcome is GoLive.CONFLICT:
                self._back_off()
            elif outcome is not GoLive.MOVED:
                return outcome
        # Publishes kept coming faster than we could catch up: subscribe from the latest seq we read and let
        # the client reload what it may have missed.
        get_logger().warning(
            "subscribe gave up catching up", extra={"channel": channel, "connection_id": connection_id}
        )
        for _ in range(SUBSCRIBE_ATTEMPTS):
            outcome = self.channels.go_live(
                tenant_id, channel, connection_id, live_from=current, expires_at=connection.expires_at, checked=False
            )
            if outcome is not GoLive.CONFLICT:
                break
            self._back_off()
        else:
            raise DataAccessError("storage unavailable during subscribe")
        if outcome is GoLive.LIVE:
            self._send(connection_id, resync_required(channel))
        return outcome

    def _back_off(self) -> None:
        # Concurrent subscribes to one channel conflict on its counter: spread their retries.
        self.sleep(random.uniform(0, CONFLICT_BACKOFF_SECONDS))  # noqa: S311 (jitter, not security)

    def _log_between(
        self, tenant_id: str, channel: str, after: int, upto: int, budget: _Budget
    ) -> list[LogEntry] | None:
        """Every logged push with `after < seq <= upto`, or None when the log no longer holds them all (or they
        are more than the frame's budget has left)."""
        if after > upto or upto - after > budget.pushes:
            return None
        for wait in (*LOG_WAITS, None):
            entries = self.channels.entries(tenant_id, channel, after=after, upto=upto, now=int(self.clock()))
            if len(entries) == upto - after:
                return entries
            if wait is None:
                return None
            # Concurrent publishers log out of order, so any missing entry may still be on its way.
            self.sleep(wait)
        return None  # not reached

    def _replay_all(self, connection_id: str, channel: str, entries: list[LogEntry], budget: _Budget) -> bool:
        """Replay `entries` in order; False when the frame's time ran out first (the rest is not sent)."""
        for entry in entries:
            if self.clock() > budget.deadline:
                get_logger().warning("replay out of time: resync instead", extra={"channel": channel})
                return False
            self._replay(connection_id, channel, entry)
            budget.pushes -= 1
        return True

    def _replay(self, connection_id: str, channel: str, entry: LogEntry) -> None:
        # A push too large for API Gateway reached its live subscribers as resync_required: so it does here,
        # rather than let its 413 abort the whole subscribe.
        if len(entry.message) <= MAX_MESSAGE_BYTES:
            with contextlib.suppress(MessageTooLargeError):
                self._send_raw(connection_id, entry.message)
                return
        get_logger().error(
            "push too large to replay: resync_required sent", extra={"channel": channel, "seq": entry.seq}
        )
        self._send(connection_id, resync_required(channel))

    def _send_snapshot(self, connection: Connection, channel: str, seq: int) -> None:
        state = self.snapshots[channel](connection.tenant_id)
        now = datetime.fromtimestamp(self.clock(), UTC)
        message = encode(push(channel, channel, seq, now, state))
        if len(message) <= MAX_MESSAGE_BYTES:
            with contextlib.suppress(MessageTooLargeError):
                self._send_raw(connection.connection_id, message)
                return
        # The state does not fit in one message: the client loads it from REST.
        get_logger().error("current state too large to send", extra={"channel": channel, "bytes": len(message)})
        self._send(connection.connection_id, resync_required(channel))

    def _unsubscribe(self, connection: Connection, frame: Unsubscribe) -> None:
        known = []
        for channel in frame.channels:
            if channel in CHANNEL_PERMISSIONS:
                self.channels.unsubscribe(connection.tenant_id, channel, connection.connection_id)
                known.append(channel)
            else:
                self._send(connection.connection_id, error("unknown_channel", "No such channel", channel))
        if known:
            self._send(connection.connection_id, unsubscribed(known))

    def _close(self, connection_id: str, connection: Connection | None) -> None:
        """Close a connection that is unknown or past its lifetime, and forget it."""
        with contextlib.suppress(GoneError):
            self.api.delete_connection(connection_id)
        if connection is not None:
            self.connections.remove(connection_id, connection.tenant_id)
        get_logger().info("closed an expired or unknown connection", extra={"connection_id": connection_id})

    def _send(self, connection_id: str, message: Mapping[str, Any]) -> None:
        self._send_raw(connection_id, encode(message))

    def _send_raw(self, connection_id: str, data: bytes) -> None:
        self.api.post_to_connection(connection_id, data)
