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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from alphapulse.aws.dynamodb import DynamoDBError, cancellation_reasons, from_item, to_item
from alphapulse.aws.sigv4 import full_jitter
from alphapulse.core.errors import DataAccessError
from alphapulse.core.storage import CONDITION_FAILED, MAX_ATTEMPTS, TableRepository, storage_errors

PUSH_PENDING = "push_pending"
DEFAULT_LEASE_SECONDS = 15.0
"""How long a claim is held when the caller does not say (a Lambda invocation's remaining time)."""
TRANSACTION_LIMIT = 100  # items per TransactWriteItems


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
        with storage_errors("clear pending push"):
            response = self.conditional("update_item", **_release(key, claim, remove))
        return response is not None

    def release_many(self, keys: Sequence[dict[str, Any]], claim: Claim) -> list[bool]:
        """Clear `claim` on the items at `keys` (distinct): whether each was still ours, in order. One transaction
        (one round trip) rather than a write per item. A transaction is all or nothing: when it is cancelled, the
        items whose condition failed are not ours, and the others are sent again without them (after a
        conflict with another writer, with backoff). Its client request token makes the client's own retry of a
        transaction whose answer was lost a no-op rather than a second attempt that finds the claims gone."""
        if len(keys) == 1:
            return [self.release(keys[0], claim)]
        released: dict[int, bool] = {}
        with storage_errors("clear pending pushes"):
            for start in range(0, len(keys), TRANSACTION_LIMIT):
                todo = list(range(start, min(start + TRANSACTION_LIMIT, len(keys))))
                for attempt in range(1, MAX_ATTEMPTS + 1):
                    updates = [{"Update": {"TableName": self.table, **_release(keys[i], claim)}} for i in todo]
                    token = secrets.token_hex(16)
                    try:
                        self.client.transact_write_items(TransactItems=updates, ClientRequestToken=token)
                    except DynamoDBError as exc:
                        reasons = cancellation_reasons(exc)
                        if reasons is None:
                            raise
                        refused = {i for i, reason in zip(todo, reasons, strict=False) if reason == CONDITION_FAILED}
                        released.update((i, False) for i in refused)
                        todo = [i for i in todo if i not in refused]
                        if todo and CONDITION_FAILED not in reasons:  # a conflict: let the other writer finish
                            full_jitter(attempt)
                        if todo:
                            continue
                    released.update((i, True) for i in todo)
                    break
                else:
                    raise DataAccessError("storage kept conflicting while clearing pending pushes")
        return [released[i] for i in range(len(keys))]


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


def release_all(targets: Sequence[ClaimTarget], claim: Claim) -> list[bool]:
    """Clear `claim` on every target (the push was made): whether each was still ours, in order. The targets
    of one repository are released together (`ClaimingRepository.release_many`)."""
    by_repository: dict[int, list[int]] = {}
    for index, target in enumerate(targets):
        by_repository.setdefault(id(target.repository), []).append(index)
    released: dict[int, bool] = {}
    for indexes in by_repository.values():
        repository = targets[indexes[0]].repository
        released.update(zip(indexes, repository.release_many([targets[i].key for i in indexes], claim), strict=True))
    return [released[i] for i in range(len(targets))]


def _release(key: dict[str, Any], claim: Claim, remove: tuple[str, ...] = ()) -> dict[str, Any]:
    """The conditional update that clears `claim` on the item at `key` (and the attributes in `remove`)."""
    names = {"#pending": PUSH_PENDING, **{f"#r{i}": name for i, name in enumerate(remove)}}
    return {
        "Key": key,
        "UpdateExpression": "REMOVE " + ", ".join(names),
        "ConditionExpression": "#pending = :mine",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_item({":mine": str(claim)}),
    }
