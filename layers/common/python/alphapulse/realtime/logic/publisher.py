"""The publisher: the one consumer of the push queue (SQS FIFO, one message group per (tenant, channel)).

Whatever decides what a channel's subscribers receive runs here, one channel at a time, in the order it was
queued: pushes (`Broadcaster.publish`; consecutive pushes of a channel are numbered, logged and delivered
together) and the catch-ups of new subscriptions (`subscriptions.CatchUp`). So a catch-up never races a
publish, and publishes never race each other: each connection gets a channel's pushes once each, in seq order,
however many functions queue them (DESIGN section 5, Order and loss), and no lock is needed.

SQS hands out no message of a group while a batch holding some of the group is in flight. A record that fails
is reported in `batchItemFailures` with every later record of its group (Lambda's rule for FIFO queues), so the
group comes back in order after the visibility timeout; after the queue's maxReceiveCount it goes to the DLQ.
Records are also left for later, in the same way, when the invocation has too little time left for them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from alphapulse.aws.management_api import MAX_MESSAGE_BYTES
from alphapulse.core.observability import get_logger
from alphapulse.realtime.models import GoLive
from alphapulse.realtime.protocol import (
    ChannelQueue,
    PushRequest,
    SubscriptionRequest,
    parse_request,
    request_body,
)

PUBLISH_SECONDS = 3.0  # time a publish of one batch needs at most; less left: the rest waits for the next invocation
CATCH_UP_SECONDS = 12.0  # a catch-up's replay budget (10 s) and its go-live


class Publishes(Protocol):
    def publish(self, pushes: Sequence[PushRequest], *, batch_id: str) -> list[int]: ...


class CatchesUp(Protocol):
    def catch_up(self, request: SubscriptionRequest, *, deadline: float) -> GoLive: ...


@dataclass(frozen=True)
class Record:
    """One push queue message, as Lambda's SQS event gives it."""

    message_id: str
    group: str
    body: str

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Record:
        return cls(str(record["messageId"]), str(record["attributes"]["MessageGroupId"]), str(record["body"]))


def queue_push(
    queue: ChannelQueue, tenant_id: str, channel: str, type_: str, data: Mapping[str, Any] | None, *, push_id: str
) -> None:
    """Queue a push for the channel's publisher. `push_id` names what is pushed (an event's identity): SQS drops
    the same push queued again within five minutes, so a sender retried after a lost response pushes it once."""
    body = request_body(PushRequest(tenant_id, channel, type_, data, time.time()))
    if len(body) > MAX_MESSAGE_BYTES:
        # API Gateway would refuse it (and SQS takes 256 KB at most): its subscribers are told to resync.
        get_logger().error("push larger than API Gateway accepts: queued as resync_required",
                           extra={"tenant_id": tenant_id, "channel": channel, "bytes": len(body)})  # fmt: skip
        body = request_body(PushRequest(tenant_id, channel, type_, None, time.time(), too_large=True))
    digest = hashlib.sha256(f"{tenant_id}\0{channel}\0{push_id}".encode()).hexdigest()
    queue.send(tenant_id, channel, body, deduplication_id=digest)


def process(
    records: Sequence[Record],
    broadcaster: Publishes,
    catch_ups: CatchesUp,
    *,
    seconds_left: Callable[[], float],
    clock: Callable[[], float] = time.time,
) -> list[str]:
    """Run a batch of push queue records, each group in order; the message ids to report as failed."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(record.group, []).append(record)
    failed: list[str] = []
    for group in groups.values():
        failed.extend(_process_group(group, broadcaster, catch_ups, seconds_left, clock))
    return failed


def _process_group(
    records: Sequence[Record],
    broadcaster: Publishes,
    catch_ups: CatchesUp,
    seconds_left: Callable[[], float],
    clock: Callable[[], float],
) -> list[str]:
    """Run one group's records in order; on the first that fails or finds too little time left, that record and
    every later one of the group (they must not overtake it)."""
    requests = [_parse(record) for record in records]
    index = 0
    while index < len(records):
        request = requests[index]
        try:
            if request is None:
                index += 1
            elif isinstance(request, SubscriptionRequest):
                if seconds_left() < CATCH_UP_SECONDS:
                    break
                catch_ups.catch_up(request, deadline=clock() + seconds_left() - PUBLISH_SECONDS)
                index += 1
            else:
                if seconds_left() < PUBLISH_SECONDS:
                    break
                run = [request]
                while index + len(run) < len(records) and isinstance(next_ := requests[index + len(run)], PushRequest):
                    run.append(next_)
                broadcaster.publish(run, batch_id=records[index].message_id)
                index += len(run)
        except Exception:
            get_logger().exception(
                "push queue record failed; it and the rest of its group come back",
                extra={"group": records[index].group},
            )
            break
    return [record.message_id for record in records[index:]]


def _parse(record: Record) -> PushRequest | SubscriptionRequest | None:
    try:
        return parse_request(record.body)
    except ValueError as exc:
        # Ours, never a client's: nothing can deliver it, and failing it would hold its group up for good.
        get_logger().error("malformed push queue message dropped", extra={"message_id": record.message_id,
                                                                          "reason": str(exc)})  # fmt: skip
        return None
