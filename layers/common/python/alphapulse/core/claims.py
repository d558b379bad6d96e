"""Pending pushes: the marker that ties a stored change to the push (or SNS message) it owes.

A write that must be pushed stores `push_pending = <claim>` in the same write (or transaction),
so the change and the debt are recorded atomically. The invocation that wrote it publishes and
then clears the marker. A redelivery that finds the marker of its own event still set knows that
the earlier attempt failed between the write and the publish: it takes the claim over (a
compare-and-swap) once its lease has run out, and publishes instead.

A claim is `<lease until, epoch seconds>.<event digest>.<nonce>`: the digest names the event
that owes the push, the nonce makes every claim unique, so a compare-and-swap has one winner.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from alphapulse.aws.dynamodb import from_item, to_item
from alphapulse.core.storage import TableRepository, storage_errors

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

PUSH_PENDING = "push_pending"
DEFAULT_LEASE_SECONDS = 15.0
"""How long a claim is held when the caller does not say (a Lambda invocation's remaining time)."""
RELEASE_WORKERS = 8  # a metrics event's points each carry the claim: released side by side, not one by one


def lease_of(context: Any) -> float:
    """How long a claim of this invocation is held: until it can no longer be running (the Lambda
    context's remaining time, plus a second)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return float(remaining()) / 1000 + 1 if callable(remaining) else DEFAULT_LEASE_SECONDS


@dataclass(frozen=True)
class Claim:
    """Who owes a push, for which event, and until when the owner may still be running."""

    until: int
    event: str
    nonce: str

    def __str__(self) -> str:
        return f"{self.until}.{self.event}.{self.nonce}"

    @classmethod
    def new(cls, identity: str, *, now: float, lease_seconds: float) -> Claim:
        """A fresh claim for the event named `identity`, held for `lease_seconds`."""
        return cls(int(now + lease_seconds) + 1, event_digest(identity), secrets.token_hex(8))

    @classmethod
    def parse(cls, text: str) -> Claim | None:
        """The claim written as `text`, or None for anything that is not one."""
        until, _, rest = text.partition(".")
        event, _, nonce = rest.partition(".")
        if not until.isdigit() or not event or not nonce:
            return None
        return cls(int(until), event, nonce)

    def renewed(self, *, now: float, lease_seconds: float) -> Claim:
        """The same debt under a new owner (a fresh nonce and lease)."""
        return Claim(int(now + lease_seconds) + 1, self.event, secrets.token_hex(8))

    def abandoned(self) -> Claim:
        """The same debt with its lease already over: given up by an owner whose publish failed."""
        return Claim(0, self.event, secrets.token_hex(8))

    def is_for(self, identity: str) -> bool:
        return self.event == event_digest(identity)

    def expired(self, now: float) -> bool:
        return now >= self.until


def event_digest(identity: str) -> str:
    """A short digest of an event's natural identity (`trade:<id>`, `system:<time>`...)."""
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


class ClaimingRepository(TableRepository):
    """A repository whose writes can carry a claim (see the module doc): `repo.claiming(claim)`."""

    _claim: Claim | None = None

    def claiming(self, claim: Claim) -> Self:
        """A copy of this repository whose writes store `claim` as their pending push."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy._claim = claim
        return copy

    def claim_attributes(self) -> dict[str, str]:
        """`{push_pending: <claim>}` for a claiming repository, else nothing."""
        return {PUSH_PENDING: str(self._claim)} if self._claim is not None else {}

    def pending_claim(self, key: dict[str, Any]) -> Claim | None:
        """The pending claim of the item at `key` (a strongly consistent read), or None."""
        with storage_errors("read pending push"):
            response = self.client.get_item(
                TableName=self.table,
                Key=key,
                ConsistentRead=True,
                ProjectionExpression="#pending",
                ExpressionAttributeNames={"#pending": PUSH_PENDING},
            )
        value = from_item(response.get("Item") or {}).get(PUSH_PENDING)
        return Claim.parse(value) if isinstance(value, str) else None

    def take_over(self, key: dict[str, Any], seen: Claim, claim: Claim) -> bool:
        """Replace the pending claim `seen` by `claim`; False when someone else changed it first."""
        with storage_errors("take over pending push"):
            response = self.conditional(
                "update_item",
                Key=key,
                UpdateExpression="SET #pending = :new",
                ConditionExpression="#pending = :seen",
                ExpressionAttributeNames={"#pending": PUSH_PENDING},
                ExpressionAttributeValues=to_item({":new": str(claim), ":seen": str(seen)}),
            )
        return response is not None

    def release(self, key: dict[str, Any], claim: Claim, *, remove: tuple[str, ...] = ()) -> bool:
        """Clear `claim` (the push was made), with the attributes in `remove`; False when it was not ours
        any more (a newer write replaced it)."""
        names = {"#pending": PUSH_PENDING, **{f"#r{i}": name for i, name in enumerate(remove)}}
        with storage_errors("clear pending push"):
            response = self.conditional(
                "update_item",
                Key=key,
                UpdateExpression="REMOVE " + ", ".join(names),
                ConditionExpression="#pending = :mine",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item({":mine": str(claim)}),
            )
        return response is not None


@dataclass(frozen=True)
class ClaimTarget:
    """One stored item that carries a pending push, as its repository names it (`repo.claim_target(...)`):
    the logic that owes the push never sees the item's key."""

    repository: ClaimingRepository
    key: dict[str, Any]

    def pending(self) -> Claim | None:
        """The item's pending claim (a strongly consistent read), or None."""
        return self.repository.pending_claim(self.key)

    def take_over(self, seen: Claim, claim: Claim) -> bool:
        """Replace the pending claim `seen` by `claim`; False when someone else changed it first."""
        return self.repository.take_over(self.key, seen, claim)

    def release(self, claim: Claim) -> bool:
        """Clear `claim` (the push was made); False when it was not ours any more."""
        return self.repository.release(self.key, claim)

    def __repr__(self) -> str:
        return f"ClaimTarget({type(self.repository).__name__})"


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def release_all(targets: Sequence[ClaimTarget], claim: Claim) -> list[bool]:
    """Clear `claim` on every target (the push was made), several at a time: each is its own conditional write.
    Whether each was still ours, in order; a failed write raises once every other one has been tried."""
    if len(targets) <= 1:
        return [target.release(claim) for target in targets]
    from concurrent.futures import ThreadPoolExecutor, wait  # only here: most functions never release several

    global _pool
    with _pool_lock:
        if _pool is None:  # kept for the process: its threads keep their connections between invocations
            _pool = ThreadPoolExecutor(max_workers=RELEASE_WORKERS, thread_name_prefix="release")
    futures = [_pool.submit(target.release, claim) for target in targets]
    wait(futures)
    return [future.result() for future in futures]
