"""Fan-out shards: a batch of a channel's pushes for some connections of one bucket, queued on the FIFO fan-out
queue in that bucket's message group and delivered by FanoutFunction (`Broadcaster.deliver_shard`).

A connection's bucket never changes (a hash of its id), so its shards reach it in order. Each shard also has
its position in its bucket: the publisher records the last one queued (on the channel's counter), the fan-out
function the last one delivered. A bucket with a shard not yet delivered is busy: the publisher then shards
every push to that bucket's connections, even for an audience it would serve itself, so that no push
overtakes an earlier one still in the queue (DESIGN section 5, Order and loss).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from alphapulse.realtime.models import Subscriber

SHARD_BUCKETS = 16  # a connection's shards always go to one of this many message groups per channel


class ShardQueue(Protocol):
    def send(self, body: str, *, group: str, deduplication_id: str) -> None: ...


@dataclass(frozen=True)
class Shard:
    """Pushes `first` to `last` of a channel, for `targets`; `position` is None in shards queued before positions
    existed (they are delivered, but not counted)."""

    tenant_id: str
    channel: str
    first: int
    last: int
    targets: Sequence[Subscriber]
    bucket: int
    position: int | None = None

    @property
    def group(self) -> str:
        return f"{self.tenant_id}#{self.channel}#{self.bucket}"

    def body(self) -> str:
        document = {
            "tenant_id": self.tenant_id,
            "channel": self.channel,
            "seq": self.first,
            "last": self.last,
            "bucket": self.bucket,
            "position": self.position,
            "connections": [[target.connection_id, target.expires_at] for target in self.targets],
        }
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def parse(cls, body: str) -> Shard:
        """A queued shard; ValueError when the body is not one."""
        try:
            document = json.loads(body)
            targets = [Subscriber(str(c), int(expires_at)) for c, expires_at in document["connections"]]
            first = int(document["seq"])
            last = int(document.get("last", first))
            position = None if document.get("position") is None else int(document["position"])
            if last < first:
                raise ValueError("last before seq")
            return cls(str(document["tenant_id"]), str(document["channel"]), first, last, targets,
                       bucket=int(document.get("bucket", 0)), position=position)  # fmt: skip
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"not a fan-out shard: {exc}") from exc


def bucket_of(connection_id: str) -> int:
    return zlib.crc32(connection_id.encode()) % SHARD_BUCKETS


def by_bucket(targets: Sequence[Subscriber]) -> dict[int, list[Subscriber]]:
    buckets: dict[int, list[Subscriber]] = {}
    for target in targets:
        buckets.setdefault(bucket_of(target.connection_id), []).append(target)
    return buckets


def chunks(targets: Sequence[Subscriber], size: int) -> Iterator[Sequence[Subscriber]]:
    for start in range(0, len(targets), size):
        yield targets[start : start + size]
