"""Ingest: store each incoming event once, and push what it changed to the tenant's subscribers once.

Idempotency is natural, from the events' own identities, rather than Powertools Idempotency: a
trade by `trade_id`, a portfolio by `as_of`, metric points by (name, timestamp, labels), the
system status by its timestamp, alerts by dedup key (or id) and timestamp (`alerts.logic.lifecycle.fire`). Every
write is conditional on that identity, so a redelivery writes nothing, and the write says whether
it was new: no second table of idempotency records, and no window in which a record and the data
disagree.

Pushing once, when a publish can fail after the write succeeded: the write stores a claim on the
item it changed (`core.claims`), in the same write. After publishing, the claim is
cleared. A redelivery (or Lambda's retry) whose write finds its event already stored looks for its
own event's claim: when it is still there, the earlier attempt stored but did not push, so this one
takes the claim over and pushes. While the claim's lease runs (the earlier invocation may still be
publishing), the redelivery raises PushInProgressError and Lambda retries it later; a publish that
fails gives its lease up at once. What remains is at least once: a crash after publishing but before
the claim is cleared pushes again on the retry.

Pushes go through the `publish` callable it is given (`realtime.wiring.publish`), so this package does
not know how pushes travel.

This module holds what both sources share: the claim, its take-over by a redelivery, and the push. `trading` and
`alerts` store each source's events (a function imports only its own).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from alphapulse.cache.models import Changed
from alphapulse.core.claims import Claim, ClaimTarget, release_all
from alphapulse.core.errors import DataAccessError
from alphapulse.core.observability import get_logger
from alphapulse.realtime.protocol import Publisher


class PushInProgressError(RuntimeError):
    """Another invocation holds the push of this event; Lambda retries this one later."""


class Push(NamedTuple):
    """One push to the subscribers of a tenant's channel."""

    tenant_id: str
    channel: str
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Owed:
    """A push that the claim on `targets` is owed."""

    targets: Sequence[ClaimTarget]
    claim: Claim
    push: Push


class Clock(Protocol):
    def __call__(self) -> float: ...


class Pusher:
    """Claims, takes over and delivers the pushes of one invocation."""

    def __init__(self, *, publish: Publisher, changed: Changed, lease_seconds: float, clock: Clock = time.time) -> None:
        self.publish = publish
        self.changed = changed
        self.lease_seconds = lease_seconds
        self.clock = clock

    def claim(self, identity: str) -> Claim:
        return Claim.new(identity, now=self.clock(), lease_seconds=self.lease_seconds)

    def recover(self, target: ClaimTarget, identity: str, push: Push) -> Owed | None:
        """The push of a redelivered event whose earlier attempt stored but did not push, taken over."""
        seen = target.pending()
        if seen is None or not seen.is_for(identity):
            return None  # pushed already (or superseded by a newer event's own push)
        claim = seen.renewed(now=self.clock(), lease_seconds=self.lease_seconds)
        if not seen.expired(self.clock()) or not target.take_over(seen, claim):
            raise PushInProgressError("another invocation is pushing this event")
        get_logger().info("taking over an unfinished push", extra={"tenant_id": push.tenant_id, "type": push.type})
        return Owed([target], claim, push)

    def deliver(self, owed: Owed | None) -> list[Push]:
        """Publish an owed push, then clear its claim. A failed publish gives the claim up at once, so
        that Lambda's retry can take it over without waiting for the lease."""
        if owed is None:
            return []
        try:
            # Written, and so no longer what cached responses show (also when a redelivery takes the push over:
            # the earlier attempt may have stopped before this).
            self.changed(owed.push.tenant_id, owed.push.channel)  # a channel is the cache domain of its data
            self.publish(*owed.push, push_id=owed.claim.event)
        except Exception:
            abandoned = owed.claim.abandoned()
            with contextlib.suppress(DataAccessError):  # then the retry waits for the lease
                for target in owed.targets:
                    target.take_over(owed.claim, abandoned)
            raise
        release_all(owed.targets, owed.claim)
        return [owed.push]
