"""Pushes to WebSocket subscribers (DESIGN section 5, Server → client and Fan-out).

The publisher function (`realtime.logic.publisher`) calls `Broadcaster.publish(pushes)` with consecutive
pushes of one (tenant, channel), one channel at a time (the push queue's message group), so that

1. one atomic ADD takes the pushes' consecutive seqs (a redelivered batch gets the same ones again);
2. they are appended to the channel's replay log (kept `REPLAY_RETENTION_SECONDS`, at least 15 minutes);
3. one strongly consistent Query (never a Scan) finds the channel's subscribers live from before them;
4. each subscriber gets them in seq order through the management API, at most `concurrency` connections at a
   time from a pool of threads that each keep one keep-alive connection; audiences above
   `FANOUT_SHARD_THRESHOLD` are split into shards of at most that size, by connection bucket, and queued on
   the FIFO fan-out queue (a connection's shards always in one group), which FanoutFunction delivers
   (`deliver_shard`). While a bucket has a shard not yet delivered, its connections' later pushes are sharded
   too, whatever the audience, so that none overtakes it (`realtime.logic.shards`); and a connection that could
   be neither reached nor closed from here is retried through the queue in the same way.

Per connection: 410 Gone deletes the connection and its subscriptions; 429 and server errors are
retried with backoff and jitter (by the client), and a connection still failing after that is closed,
so that its client reconnects and resumes; a push larger than API Gateway accepts (413) reaches its
subscribers as `resync_required`; a connection whose lifetime (token expiry, 2 h at most) has ended
is not sent to but closed, and its rows deleted. Whatever happens to one connection, the others are
still served, and no push is skipped silently (DESIGN section 5, Order and loss).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from alphapulse.aws.management_api import (
    MAX_MESSAGE_BYTES,
    GoneError,
    ManagementApiClient,
    ManagementApiError,
    MessageTooLargeError,
)
from alphapulse.core.errors import DataAccessError
from alphapulse.core.observability import get_logger
from alphapulse.realtime.logic.shards import Shard, ShardQueue, bucket_of, by_bucket, chunks
from alphapulse.realtime.models import LogEntry, Subscriber
from alphapulse.realtime.protocol import EVENT_CHANNELS, PushRequest, encode, push, resync_required
from alphapulse.realtime.repositories.channels import ChannelRepository
from alphapulse.realtime.repositories.connections import ConnectionRepository

FANOUT_CONCURRENCY = 200  # sends in flight per process; also the number of pooled connections
SHARD_PROGRESS_CHUNK = 200  # connections delivered between two records of a shard's progress


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
        self, tenant_id: str, messages: Sequence[bytes], targets: Sequence[Subscriber], *, now: float, resync: bytes
    ) -> DeliveryReport:
        """Send `messages`, in order, to every target (expired ones are closed instead). A message larger than
        API Gateway accepts reaches its targets as `resync` (its channel's resync_required): nothing is skipped
        silently."""
        return self._each(tenant_id, messages, targets, now, resync)

    def close_expired(self, tenant_id: str, targets: Sequence[Subscriber], *, now: float) -> DeliveryReport:
        """Close the targets whose lifetime has ended (the sweeper) as a push to them would: concurrently, a 410
        tolerated, one failure never stopping the others. `expired` counts the closed ones, `failed` the others."""
        return self._each(tenant_id, None, [target for target in targets if target.expires_at <= now], now, None)

    def _each(
        self,
        tenant_id: str,
        messages: Sequence[bytes] | None,
        targets: Sequence[Subscriber],
        now: float,
        resync: bytes | None,
    ) -> DeliveryReport:
        if len(targets) <= 1:
            report = DeliveryReport()
            for target in targets:
                self._deliver_one(tenant_id, messages, target, now, report, resync)
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
                self._deliver_one(tenant_id, messages, target, now, report, resync)

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
        messages: Sequence[bytes] | None,
        target: Subscriber,
        now: float,
        report: DeliveryReport,
        resync: bytes | None,
    ) -> None:
        """Send `messages` to the target in order, or close it when its lifetime has ended or there are none."""
        connection_id = target.connection_id
        if messages is None or target.expires_at <= now:
            try:
                self.close(tenant_id, connection_id)
                report.expired += 1
            except Exception as exc:
                self._warn("close failed", connection_id, exc)
                report.failed.append(connection_id)  # the next push or sweep tries again
            return
        for message in messages:
            if len(message) > MAX_MESSAGE_BYTES and resync is not None:
                # API Gateway would answer 413: not a connection problem, and not worth trying.
                report.too_large += 1
                message = resync
            try:
                self.api.post_to_connection(connection_id, message)
                report.delivered += 1
            except GoneError:
                report.gone += 1
                self._forget(tenant_id, connection_id)
                return
            except MessageTooLargeError:
                report.too_large += 1
                told = DeliveryReport()
                if resync is not None:
                    self._deliver_one(tenant_id, [resync], target, now, told, None)
                if not told.delivered:
                    report.add(told)
                    return
            except Exception as exc:
                self._warn("push failed", connection_id, exc)
                self._close_unreachable(tenant_id, connection_id, report)
                return

    @staticmethod
    def _warn(what: str, connection_id: str, exc: Exception) -> None:
        unexpected = not isinstance(exc, ManagementApiError | DataAccessError)
        get_logger().warning(what, extra={"connection_id": connection_id, "error": str(exc)}, exc_info=unexpected)

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

    def publish(self, pushes: Sequence[PushRequest], *, batch_id: str) -> list[int]:
        """Number, log and deliver consecutive pushes of one (tenant, channel); their seqs. Only one publish of a
        channel may run at a time (the push queue's message group sees to it); `batch_id` names the batch, so
        that a redelivered one gets the same seqs."""
        if not pushes:
            return []
        tenant_id, channel = pushes[0].tenant_id, pushes[0].channel
        for outgoing in pushes:
            if (outgoing.tenant_id, outgoing.channel) != (tenant_id, channel):
                raise ValueError("one publish is one (tenant, channel)")
            if EVENT_CHANNELS.get(outgoing.type) != channel:
                raise ValueError(f"{outgoing.type!r} is not a push type of channel {channel!r}")
            encode({"data": outgoing.data})  # data that cannot be sent fails here, before it takes a seq
        now = self.clock()
        numbered = self.channels.take_seqs(tenant_id, channel, len(pushes), batch_id=batch_id)
        resync = encode(resync_required(channel))
        entries = [
            LogEntry(
                seq, resync if each.too_large else encode(push(each.type, channel, seq, _time(each.at), each.data))
            )
            for seq, each in enumerate(pushes, start=numbered.first)
        ]
        # Logged before the subscriber query: a subscriber that is not yet live finds them in the log.
        self.channels.append(tenant_id, channel, entries, expires_at=int(now) + self.retention_seconds)
        targets = list(self.channels.subscribers(tenant_id, channel, numbered.first))
        positions = dict(numbered.shards_queued)
        direct = self._shard(tenant_id, channel, entries, targets, positions)
        report = self.fanout.deliver(tenant_id, [entry.message for entry in entries], direct, now=now, resync=resync)
        if report.failed:
            # Neither reached nor closed: the fan-out queue retries them (and their later pushes queue behind).
            failed = set(report.failed)
            self._queue(tenant_id, channel, entries, [t for t in direct if t.connection_id in failed], positions)
        _log(tenant_id, channel, entries, len(targets), report)
        return [entry.seq for entry in entries]

    def _shard(
        self,
        tenant_id: str,
        channel: str,
        entries: Sequence[LogEntry],
        targets: Sequence[Subscriber],
        positions: dict[int, int],
    ) -> list[Subscriber]:
        """Queue the shards of an audience above the threshold, and of the busy buckets of a smaller one; the
        targets left to serve from here."""
        if self.shards is None or not targets:
            return list(targets)
        if len(targets) > self.shard_threshold:
            self._queue(tenant_id, channel, entries, targets, positions)
            return []
        busy = self._busy(tenant_id, channel, positions)
        queued: list[Subscriber] = []
        direct: list[Subscriber] = []
        for target in targets:
            (queued if bucket_of(target.connection_id) in busy else direct).append(target)
        self._queue(tenant_id, channel, entries, queued, positions)
        return direct

    def _busy(self, tenant_id: str, channel: str, queued: dict[int, int]) -> set[int]:
        """The buckets with a shard queued and not yet delivered."""
        if not queued:
            return set()  # this channel was never sharded: nothing to read
        delivered = self.channels.shards_delivered(tenant_id, channel)
        return {bucket for bucket, position in queued.items() if delivered.get(bucket, 0) < position}

    def _queue(
        self,
        tenant_id: str,
        channel: str,
        entries: Sequence[LogEntry],
        targets: Sequence[Subscriber],
        positions: dict[int, int],
    ) -> None:
        """Queue `targets` in shards of at most the threshold, each in its connections' bucket group, and record
        the buckets' new positions. A shard that cannot be queued fails the publish, which the push queue
        redelivers: with the same seqs and shards, which SQS drops as duplicates of those already queued."""
        if not targets:
            return
        assert self.shards is not None
        touched: dict[int, int] = {}
        for bucket, members in sorted(by_bucket(targets).items()):
            for chunk in chunks(members, self.shard_threshold):
                positions[bucket] = touched[bucket] = positions.get(bucket, 0) + 1
                shard = Shard(tenant_id, channel, entries[0].seq, entries[-1].seq, chunk, bucket, touched[bucket])
                body = shard.body()
                self.shards.send(body, group=shard.group, deduplication_id=_digest(body))
        self.channels.record_shards_queued(tenant_id, channel, touched)

    def deliver_shard(self, body: str) -> DeliveryReport:
        """Deliver one queued shard (FanoutFunction); ValueError when the body is not a shard.

        SQS delivers a message at least once, and a shard that failed (a connection neither reached nor closed) or
        whose function stopped halfway comes back whole, in its group's order: the connections done with are
        recorded every SHARD_PROGRESS_CHUNK, and a shard delivered again skips them, so no connection gets a seq
        twice. A shard done with every connection is recorded as its bucket's last delivered. After the queue's
        maxReceiveCount it goes to the DLQ."""
        shard = Shard.parse(body)
        tenant_id, channel = shard.tenant_id, shard.channel
        now = self.clock()
        resync = encode(resync_required(channel))
        progress = f"{shard.first}-{_digest(body)[:32]}"
        done = self.channels.shard_done(tenant_id, channel, progress)
        targets = [target for target in shard.targets if target.connection_id not in done]
        entries = self.channels.entries(tenant_id, channel, after=shard.first - 1, upto=shard.last, now=int(now))
        if len(entries) == shard.last - shard.first + 1:
            messages = [entry.message for entry in entries]
        else:
            # Older than the replay log: the pushes are gone, so their subscribers are told to reload from REST.
            get_logger().error("fan-out shard of pushes no longer logged", extra={"channel": channel,
                                                                                   "seq": shard.first})  # fmt: skip
            messages = [resync]
        report = DeliveryReport()
        for chunk in chunks(targets, SHARD_PROGRESS_CHUNK):
            part = self.fanout.deliver(tenant_id, messages, chunk, now=now, resync=resync)
            handled = {target.connection_id for target in chunk} - set(part.failed)
            self.channels.add_shard_done(
                tenant_id, channel, progress, handled, expires_at=int(now) + self.retention_seconds
            )
            report.add(part)
        if not report.failed and shard.position is not None:
            self.channels.record_shard_delivered(tenant_id, channel, shard.bucket, shard.position)
        if entries:
            _log(tenant_id, channel, entries, len(targets), report)
        return report


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _log(tenant_id: str, channel: str, entries: Sequence[LogEntry], audience: int, report: DeliveryReport) -> None:
    fields = {
        "tenant_id": tenant_id,
        "channel": channel,
        "seq": entries[0].seq,
        "pushes": len(entries),
        "audience": audience,
        "delivered": report.delivered,
        "gone": report.gone,
        "expired": report.expired,
        "closed": report.closed,
        "failed": len(report.failed),
    }
    if report.too_large:
        size = max(len(entry.message) for entry in entries)
        get_logger().error(
            "push larger than API Gateway accepts: its subscribers were told to resync", extra={**fields, "bytes": size}
        )
    else:
        get_logger().info("pushed", extra=fields)
