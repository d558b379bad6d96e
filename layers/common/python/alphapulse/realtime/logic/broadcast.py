"""Pushes to WebSocket subscribers (DESIGN section 5, Server → client and Fan-out).

`publish(tenant_id, channel, type_, data)` is what ingestion calls. Holding the channel's lock (one publish or
catch-up of a (tenant, channel) at a time, in every container: pushes reach each connection in seq order), it

1. takes the channel's next `seq` (an atomic ADD on the channel's counter);
2. appends the push to the channel's replay log (kept `REPLAY_RETENTION_SECONDS`, at least 15 minutes);
3. queries the channel's subscribers (one strongly consistent Query, never a Scan) that are live
   from before this seq (see `ChannelRepository.go_live` for why that gives no gap and no duplicate);
4. delivers `{type, channel, seq, timestamp, data}` to each through the management API, at most
   `concurrency` sends at a time from a pool of threads that each keep one keep-alive connection;
   audiences above `FANOUT_SHARD_THRESHOLD` are split into shards of that size and queued on the
   fan-out queue, which FanoutFunction delivers (`deliver_shard`).

Per connection: 410 Gone deletes the connection and its subscriptions; 429 and server errors are
retried with backoff and jitter (by the client), and a connection still failing after that is closed,
so that its client reconnects and resumes; a push larger than API Gateway accepts (413) reaches its
subscribers as `resync_required`; a connection whose lifetime (token expiry, 2 h at most) has ended
is not sent to but closed, and its rows deleted. Whatever happens to one connection, the others are
still served, and no push is skipped silently (DESIGN section 5, Order and loss).
"""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from alphapulse.aws.management_api import (
    MAX_MESSAGE_BYTES,
    GoneError,
    ManagementApiClient,
    ManagementApiError,
    MessageTooLargeError,
)
from alphapulse.core.errors import DataAccessError
from alphapulse.core.observability import get_logger
from alphapulse.realtime.models import Subscriber
from alphapulse.realtime.protocol import EVENT_CHANNELS, encode, push, resync_required
from alphapulse.realtime.repositories import ChannelRepository, ConnectionRepository

FANOUT_CONCURRENCY = 200  # sends in flight per process; also the number of pooled connections
LOCK_LEASE_SECONDS = 8.0  # longer than a publish or a catch-up holds a channel; shorter than a function's timeout
LOCK_WAIT_SECONDS = 6.0
SHARD_ATTEMPTS = 5  # deliveries of a shard's connections not reached, 1, 2, 4 and 8 s apart


class ShardQueue(Protocol):
    def send(self, body: str, *, delay_seconds: int = 0) -> None: ...


@dataclass
class DeliveryReport:
    """What became of one push's audience."""

    delivered: int = 0
    gone: int = 0
    expired: int = 0
    too_large: int = 0
    closed: int = 0  # could not be sent to after the retries: closed, so the client reconnects and resumes
    failed: list[str] = field(default_factory=list)  # not reached and not closed either (may be retried)

    def add(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.gone += other.gone
        self.expired += other.expired
        self.too_large += other.too_large
        self.closed += other.closed
        self.failed.extend(other.failed)


class Fanout:
    """Sends one message to many connections with bounded concurrency; one bad connection never stops the others."""

    def __init__(
        self, api: ManagementApiClient, connections: ConnectionRepository, *, concurrency: int = FANOUT_CONCURRENCY
    ) -> None:
        self.api = api
        self.connections = connections
        self.concurrency = concurrency
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def deliver(
        self, tenant_id: str, message: bytes, targets: Sequence[Subscriber], *, now: float, resync: bytes
    ) -> DeliveryReport:
        """Send `message` to every target (expired ones are closed instead). A target that cannot take it,
        because it is larger than API Gateway accepts, gets `resync` instead (its channel's resync_required):
        nothing is skipped silently."""
        if len(message) > MAX_MESSAGE_BYTES:
            # API Gateway would answer 413 to every connection: not a connection problem, and not worth trying.
            report = self._each(tenant_id, resync, targets, now, None)
            report.too_large, report.delivered = report.delivered, 0
            return report
        return self._each(tenant_id, message, targets, now, resync)

    def close_expired(self, tenant_id: str, targets: Sequence[Subscriber], *, now: float) -> DeliveryReport:
        """Close the targets whose lifetime has ended (the sweeper) as a push to them would: concurrently, a 410
        tolerated, one failure never stopping the others. `expired` counts the closed ones, `failed` the others."""
        return self._each(tenant_id, None, [target for target in targets if target.expires_at <= now], now, None)

    def _each(
        self, tenant_id: str, message: bytes | None, targets: Sequence[Subscriber], now: float, resync: bytes | None
    ) -> DeliveryReport:
        if len(targets) <= 1:
            report = DeliveryReport()
            for target in targets:
                self._deliver_one(tenant_id, message, target, now, report, resync)
            return report
        pending = iter(targets)
        lock = threading.Lock()

        def work() -> DeliveryReport:
            report = DeliveryReport()
            while True:
                with lock:
                    target = next(pending, None)
                if target is None:
                    return report
                self._deliver_one(tenant_id, message, target, now, report, resync)

        workers = [self._executor().submit(work) for _ in range(min(self.concurrency, len(targets)))]
        total = DeliveryReport()
        for worker in workers:
            total.add(worker.result())
        return total

    def _executor(self) -> ThreadPoolExecutor:
        # Created at the first large delivery and kept: its threads keep their connections warm.
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="fanout")
            return self._pool

    def _deliver_one(
        self,
        tenant_id: str,
        message: bytes | None,
        target: Subscriber,
        now: float,
        report: DeliveryReport,
        resync: bytes | None,
    ) -> None:
        """Send `message` to the target, or close it when its lifetime has ended or there is no message."""
        connection_id = target.connection_id
        closing = message is None or target.expires_at <= now
        try:
            if closing:
                self.close(tenant_id, connection_id)
                report.expired += 1
                return
            assert message is not None
            self.api.post_to_connection(connection_id, message)
            report.delivered += 1
        except GoneError:
            report.gone += 1
            self._forget(tenant_id, connection_id)
        except MessageTooLargeError:
            report.too_large += 1
            if resync is not None:
                self._deliver_one(tenant_id, resync, target, now, DeliveryReport(), None)
        except Exception as exc:
            unexpected = not isinstance(exc, ManagementApiError | DataAccessError)
            get_logger().warning(
                "close failed" if closing else "push failed",
                extra={"connection_id": connection_id, "error": str(exc)},
                exc_info=unexpected,
            )
            if closing:
                report.failed.append(connection_id)  # the next push or sweep tries again
            else:
                self._close_unreachable(tenant_id, connection_id, report)

    def _close_unreachable(self, tenant_id: str, connection_id: str, report: DeliveryReport) -> None:
        """Nothing is skipped silently: a connection that missed a push is closed, so that its client reconnects
        and resumes with `since`. When even that fails, the connection is reported `failed` (retried later)."""
        try:
            self.close(tenant_id, connection_id)
        except Exception:
            report.failed.append(connection_id)
            get_logger().warning(
                "could not close a connection that missed a push", extra={"connection_id": connection_id}
            )
        else:
            report.closed += 1

    def close(self, tenant_id: str, connection_id: str) -> None:
        """Close a connection through the management API and delete its rows (it may be gone already)."""
        with contextlib.suppress(GoneError):
            self.api.delete_connection(connection_id)
        self._forget(tenant_id, connection_id)

    def _forget(self, tenant_id: str, connection_id: str) -> None:
        try:
            self.connections.remove(connection_id, tenant_id)
        except DataAccessError:
            # Its rows expire through TTL, and the next push finds it gone again.
            get_logger().warning("could not delete a closed connection", extra={"connection_id": connection_id})


@contextlib.contextmanager
def channel_lock(channels: ChannelRepository, tenant_id: str, channel: str) -> Iterator[None]:
    """Hold the (tenant, channel) lock: the publishes and catch-ups of one channel run one at a time, in every
    container, so each connection gets the channel's pushes in seq order (DESIGN section 5, Order and loss).
    DataAccessError when it stays taken for LOCK_WAIT_SECONDS (the caller is retried). Wall-clock times: the
    lease is shared by every process."""
    owner = secrets.token_hex(8)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    attempt = 0
    while not channels.lock(tenant_id, channel, owner, until=time.time() + LOCK_LEASE_SECONDS, now=time.time()):
        if time.monotonic() > deadline:
            raise DataAccessError(f"the {channel} channel stayed locked")
        attempt += 1
        time.sleep(random.uniform(0, min(0.02, 0.002 * 2**attempt)))  # noqa: S311 (jitter, not security)
    try:
        yield
    finally:
        with contextlib.suppress(DataAccessError):  # then the lease ends by itself
            channels.unlock(tenant_id, channel, owner)


class Broadcaster:
    """Numbers, logs and delivers pushes of a (tenant, channel)."""

    def __init__(
        self,
        channels: ChannelRepository,
        fanout: Fanout,
        *,
        retention_seconds: int,
        shard_threshold: int,
        shards: ShardQueue | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.channels = channels
        self.fanout = fanout
        self.retention_seconds = retention_seconds
        self.shard_threshold = shard_threshold
        self.shards = shards
        self.clock = clock

    def publish(self, tenant_id: str, channel: str, type_: str, data: Mapping[str, Any] | None) -> int:
        """Push `data` as a `type_` message on the tenant's `channel`; the push's seq."""
        if EVENT_CHANNELS.get(type_) != channel:
            raise ValueError(f"{type_!r} is not a push type of channel {channel!r}")
        now = self.clock()
        encode({"data": data})  # data that cannot be sent fails here, before it takes a seq that would stay a gap
        resync = encode(resync_required(channel))
        with channel_lock(self.channels, tenant_id, channel):
            seq = self.channels.next_seq(tenant_id, channel)
            message = encode(push(type_, channel, seq, datetime.fromtimestamp(now, UTC), data))
            # Logged before the subscriber query: a subscriber that is not yet live finds it in the log.
            self.channels.append(tenant_id, channel, seq, message, expires_at=int(now) + self.retention_seconds)
            targets = list(self.channels.subscribers(tenant_id, channel, seq))
            report = DeliveryReport()
            if len(targets) > self.shard_threshold and self.shards is not None:
                for shard in _chunks(targets, self.shard_threshold):
                    report.add(self._queue(tenant_id, channel, seq, message, shard, now))
            else:
                report = self.fanout.deliver(tenant_id, message, targets, now=now, resync=resync)
            _log(tenant_id, channel, seq, len(message), len(targets), report)
        return seq

    def _queue(
        self, tenant_id: str, channel: str, seq: int, message: bytes, shard: Sequence[Subscriber], now: float
    ) -> DeliveryReport:
        assert self.shards is not None
        try:
            self.shards.send(_shard_body(tenant_id, channel, seq, shard))
        except Exception:
            # Nothing is dropped: a shard that cannot be queued is delivered from here.
            get_logger().exception("could not queue a fan-out shard; delivering it directly")
            return self.fanout.deliver(tenant_id, message, shard, now=now, resync=encode(resync_required(channel)))
        return DeliveryReport()

    def deliver_shard(self, body: str) -> DeliveryReport:
        """Deliver one queued shard (FanoutFunction); ValueError when the body is not a shard."""
        tenant_id, channel, seq, targets, attempt = _parse_shard(body)
        now = self.clock()
        resync = encode(resync_required(channel))
        entry = self.channels.entry(tenant_id, channel, seq, now=int(now))
        if entry is None:
            # Older than the replay log: the push is gone, so its subscribers are told to reload from REST.
            get_logger().error("fan-out shard of a push no longer logged", extra={"channel": channel, "seq": seq})
            return self.fanout.deliver(tenant_id, resync, targets, now=now, resync=resync)
        report = self.fanout.deliver(tenant_id, entry.message, targets, now=now, resync=resync)
        _log(tenant_id, channel, seq, len(entry.message), len(targets), report)
        if report.failed and self.shards is not None and attempt < SHARD_ATTEMPTS:
            # Only the connections not reached go round again, as a shard of their own and a little later: a
            # retry of the whole shard would push this seq a second time to every connection that has it. After
            # SHARD_ATTEMPTS the shard is reported failed, and the queue's redrive puts it on the DLQ.
            retry = [target for target in targets if target.connection_id in set(report.failed)]
            with contextlib.suppress(Exception):  # then the whole shard comes back: late, but nothing is lost
                self.shards.send(
                    _shard_body(tenant_id, channel, seq, retry, attempt + 1), delay_seconds=2 ** (attempt - 1)
                )
                report.failed = []
        return report


def _shard_body(tenant_id: str, channel: str, seq: int, targets: Sequence[Subscriber], attempt: int = 1) -> str:
    body = {
        "tenant_id": tenant_id,
        "channel": channel,
        "seq": seq,
        "connections": [[target.connection_id, target.expires_at] for target in targets],
        "attempt": attempt,
    }
    return json.dumps(body, separators=(",", ":"))


def _parse_shard(body: str) -> tuple[str, str, int, list[Subscriber], int]:
    try:
        document = json.loads(body)
        targets = [
            Subscriber(str(connection_id), int(expires_at)) for connection_id, expires_at in document["connections"]
        ]
        attempt = int(document.get("attempt", 1))
        return str(document["tenant_id"]), str(document["channel"]), int(document["seq"]), targets, attempt
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a fan-out shard: {exc}") from exc


def _chunks(targets: Sequence[Subscriber], size: int) -> Iterator[Sequence[Subscriber]]:
    for start in range(0, len(targets), size):
        yield targets[start : start + size]


def _log(tenant_id: str, channel: str, seq: int, size: int, audience: int, report: DeliveryReport) -> None:
    fields = {
        "tenant_id": tenant_id,
        "channel": channel,
        "seq": seq,
        "audience": audience,
        "delivered": report.delivered,
        "gone": report.gone,
        "expired": report.expired,
        "closed": report.closed,
        "failed": len(report.failed),
    }
    if report.too_large:
        get_logger().error(
            "push larger than API Gateway accepts: its subscribers were told to resync", extra={**fields, "bytes": size}
        )
    else:
        get_logger().info("pushed", extra=fields)
