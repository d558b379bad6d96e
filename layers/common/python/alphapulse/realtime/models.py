"""What the real-time path keeps about connections, subscribers and the replay log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True)
class Connection:
    """Who is connected, with which permissions, until when (epoch seconds)."""

    connection_id: str
    tenant_id: str
    username: str
    permissions: frozenset[str]
    token_expires_at: int
    connected_at: int
    expires_at: int

    def expired(self, now: float) -> bool:
        return self.expires_at <= now


@dataclass(frozen=True)
class Subscriber:
    connection_id: str
    expires_at: int


@dataclass(frozen=True)
class LogEntry:
    seq: int
    message: bytes


@dataclass(frozen=True)
class Numbered:
    """A publish batch's first seq, and the position of the last fan-out shard queued in each connection bucket."""

    first: int
    shards_queued: Mapping[int, int] = field(default_factory=dict)


class GoLive(Enum):
    """How a subscription attempt ended."""

    LIVE = "live"  # subscribed; every later seq reaches the connection
    MOVED = "moved"  # a publish took the next seq meanwhile: replay it and try again
    GONE = "gone"  # the connection no longer exists
    CONFLICT = "conflict"  # another transaction held one of the items (e.g. a concurrent subscribe): try again
