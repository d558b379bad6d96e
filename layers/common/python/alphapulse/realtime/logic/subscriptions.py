"""Client frames of an open WebSocket connection: subscribe (with resume), unsubscribe, ping.

Every reply goes through the management API (post_to_connection), in order. A subscribe answers the
errors and `subscribed` itself, then queues one catch-up per channel on the push queue, in the channel's
message group: the publisher function runs it (`catch_up`) between the channel's publishes, never during
one. It reads the channel's current seq C, sends what the client is missing up to C (the replay log after
`since`, by default the seq when `subscribed` was sent, or the current state for `portfolio` and `system`),
then subscribes "live from C" (see
`ChannelRepository.go_live`). The pushes after C are published after it, so each seq arrives once, in
order, replayed ones first. An error never closes the connection; a connection whose lifetime has ended
is closed at its next frame, and one whose catch-up cannot be queued is closed (it reconnects and resumes).
"""

from __future__ import annotations

import contextlib
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alphapulse.aws.management_api import (
    MAX_MESSAGE_BYTES,
    GoneError,
    ManagementApiClient,
    ManagementApiError,
    MessageTooLargeError,
)
from alphapulse.core.errors import DataAccessError
from alphapulse.core.observability import get_logger
from alphapulse.realtime.models import Connection, GoLive, LogEntry
from alphapulse.realtime.protocol import (
    CHANNEL_PERMISSIONS,
    PONG,
    SNAPSHOT_CHANNELS,
    ChannelQueue,
    FrameError,
    Ping,
    Subscribe,
    SubscriptionRequest,
    Unsubscribe,
    encode,
    error,
    parse_frame,
    push,
    request_body,
    resync_required,
    subscribed,
    unsubscribed,
)
from alphapulse.realtime.repositories.channels import ChannelRepository
from alphapulse.realtime.repositories.connections import ConnectionRepository

REPLAY_LIMIT = 500  # pushes replayed per catch-up (one channel of a subscribe); past it, resync_required
REPLAY_BUDGET_SECONDS = 10.0  # a catch-up's replay stops here (resync_required), well within the function's timeout
SUBSCRIBE_ATTEMPTS = 5  # a transaction that met another one on the connection's item (its $disconnect)
CONFLICT_BACKOFF_SECONDS = 0.05

Snapshot = Callable[[str], Any]  # tenant id -> the channel's current state


@dataclass
class _Budget:
    """What one catch-up may still replay: until `deadline` (clock time), at most `pushes` more."""

    deadline: float
    pushes: int


class _Replies:
    """What answering a connection needs: its rows, the channels, the management API and a clock."""

    def __init__(
        self,
        connections: ConnectionRepository,
        channels: ChannelRepository,
        api: ManagementApiClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connections = connections
        self.channels = channels
        self.api = api
        self.clock = clock

    def _close(self, connection_id: str, connection: Connection | None, why: str) -> None:
        """Close a connection and forget it; when even closing fails, the error is raised (the frame fails, or
        the catch-up comes back in its channel's turn)."""
        with contextlib.suppress(GoneError):
            self.api.delete_connection(connection_id)
        if connection is not None:
            self.connections.remove(connection_id, connection.tenant_id)
        get_logger().info("closed a connection", extra={"connection_id": connection_id, "why": why})

    def _send(self, connection_id: str, message: Mapping[str, Any]) -> None:
        self._send_raw(connection_id, encode(message))

    def _send_raw(self, connection_id: str, data: bytes) -> None:
        self.api.post_to_connection(connection_id, data)


class FrameHandler(_Replies):
    """Answers the frames of one function instance's connections; queues each subscription's catch-up."""

    def __init__(
        self,
        connections: ConnectionRepository,
        channels: ChannelRepository,
        api: ManagementApiClient,
        queue: ChannelQueue,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(connections, channels, api, clock=clock)
        self.queue = queue

    def handle(self, connection_id: str, body: str | bytes | None) -> None:
        """Answer one frame."""
        connection = self.connections.get(connection_id)
        if connection is None or connection.expired(self.clock()):
            self._close(connection_id, connection, "expired or unknown")
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
        except ManagementApiError:
            # Not answered after the retries: closed, so that the client reconnects rather than wait.
            self._close(connection.connection_id, connection, "could not be sent to")

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
        # Told `subscribed`, the client is owed every push after it, but its catch-up runs later, in the channel's
        # turn: without `since`, it resumes from the seq read now (a state channel sends its state instead).
        since = {
            channel: frame.since[channel] if channel in frame.since else self._position(connection, channel)
            for channel in permitted
        }
        self._send(connection.connection_id, subscribed(permitted))
        self._queue(connection, [SubscriptionRequest(connection.tenant_id, channel, connection.connection_id,
                                                     since[channel]) for channel in permitted])  # fmt: skip

    def _position(self, connection: Connection, channel: str) -> int | None:
        if channel in SNAPSHOT_CHANNELS:
            return None
        return self.channels.current_seq(connection.tenant_id, channel)

    def _unsubscribe(self, connection: Connection, frame: Unsubscribe) -> None:
        known = []
        for channel in frame.channels:
            if channel in CHANNEL_PERMISSIONS:
                # At once, so that pushes stop now; and in the channel's turn, after a catch-up still queued.
                self.channels.unsubscribe(connection.tenant_id, channel, connection.connection_id)
                known.append(channel)
            else:
                self._send(connection.connection_id, error("unknown_channel", "No such channel", channel))
        if known:
            self._send(connection.connection_id, unsubscribed(known))
            self._queue(connection, [SubscriptionRequest(connection.tenant_id, channel, connection.connection_id,
                                                         subscribe=False) for channel in known])  # fmt: skip

    def _queue(self, connection: Connection, requests: list[SubscriptionRequest]) -> None:
        """Queue subscription changes in their channels' turns. One that cannot be queued closes the connection:
        told `subscribed`, the client would wait for pushes that never come; closed, it reconnects and resumes."""
        for request in requests:
            try:
                self.queue.send(
                    request.tenant_id, request.channel, request_body(request), deduplication_id=secrets.token_hex(16)
                )
            except Exception:
                get_logger().exception(
                    "could not queue a subscription change: closing the connection", extra={"channel": request.channel}
                )
                self._close(connection.connection_id, connection, "subscription not queued")
                return


class CatchUp(_Replies):
    """Catches new subscriptions up (the publisher function, in their channel's turn)."""

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
        super().__init__(connections, channels, api, clock=clock)
        self.snapshots = snapshots
        self.sleep = sleep
        self.replay_budget_seconds = replay_budget_seconds

    def catch_up(self, request: SubscriptionRequest, *, deadline: float) -> GoLive:
        """Catch the connection up on the channel and subscribe it live, the replay stopping at `deadline` (clock
        time) at the latest; or unsubscribe it (then GONE: not live)."""
        if not request.subscribe:
            self.channels.unsubscribe(request.tenant_id, request.channel, request.connection_id)
            return GoLive.GONE
        connection = self.connections.get(request.connection_id)
        if connection is None or connection.expired(self.clock()):
            self._close(request.connection_id, connection, "expired or unknown")
            return GoLive.GONE
        budget = _Budget(deadline=min(deadline, self.clock() + self.replay_budget_seconds), pushes=REPLAY_LIMIT)
        try:
            return self._catch_up(connection, request.channel, request.since, budget)
        except GoneError:
            self.connections.remove(connection.connection_id, connection.tenant_id)
            return GoLive.GONE
        except ManagementApiError:
            # Told `subscribed` but not caught up: closed, as for a live push it could not get, so that it
            # reconnects and resumes; the channel's other pushes and catch-ups go on.
            self._close(connection.connection_id, connection, "could not be sent to")
            return GoLive.GONE

    def _catch_up(self, connection: Connection, channel: str, since: int | None, budget: _Budget) -> GoLive:
        tenant_id, connection_id = connection.tenant_id, connection.connection_id
        # Subscribing again to a channel that is live already: the old subscription must not be pushed to while
        # we replay, or the client gets pushes twice or out of order (or a stale state last).
        self.channels.unsubscribe(tenant_id, channel, connection_id)
        current = self.channels.current_seq(tenant_id, channel)
        position = since  # the last seq the client holds; None: nothing to resume from
        if position is not None and position != current:
            entries = self._log_between(tenant_id, channel, position, current, budget)
            if entries is None or not self._replay_all(connection_id, channel, entries, budget):
                # Gone from the log, or more than this catch-up may replay: the client reloads from REST.
                position = None
                if channel not in SNAPSHOT_CHANNELS:
                    self._send(connection_id, resync_required(channel))
        if position is None and channel in SNAPSHOT_CHANNELS:
            self._send_snapshot(connection, channel, current)
        for _ in range(SUBSCRIBE_ATTEMPTS):
            outcome = self.channels.go_live(
                tenant_id, channel, connection_id, live_from=current, expires_at=connection.expires_at
            )
            if outcome is GoLive.MOVED:
                # Only this channel's publisher takes seqs, and it waits for this catch-up: never, unless a second
                # publisher ran (a misconfigured queue). Refuse rather than risk an unannounced gap.
                raise DataAccessError(f"the {channel} channel moved during a catch-up")
            if outcome is not GoLive.CONFLICT:
                return outcome
            self._back_off()
        raise DataAccessError("storage unavailable during subscribe")

    def _back_off(self) -> None:
        # Concurrent subscribes to one channel conflict on its counter: spread their retries.
        self.sleep(random.uniform(0, CONFLICT_BACKOFF_SECONDS))  # noqa: S311 (jitter, not security)

    def _log_between(
        self, tenant_id: str, channel: str, after: int, upto: int, budget: _Budget
    ) -> list[LogEntry] | None:
        """Every logged push with `after < seq <= upto`, or None when the log no longer holds them all (aged out,
        or their publish failed between numbering and logging) or they are more than the budget has left."""
        if after > upto or upto - after > budget.pushes:
            return None
        entries = self.channels.entries(tenant_id, channel, after=after, upto=upto, now=int(self.clock()))
        return entries if len(entries) == upto - after else None

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
