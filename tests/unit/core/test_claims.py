"""Releasing a claim on several items: side by side, each result in order, and a failure after every try."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from alphapulse.core.claims import Claim, ClaimTarget, release_all
from alphapulse.core.errors import DataAccessError

CLAIM = Claim.new("metrics:acme:2026-12-01T00:00:00Z", now=1_000.0, lease_seconds=15)


class Items:
    """A claiming repository whose releases wait at a barrier: they pass only when all run at once."""

    def __init__(self, parties: int, *, refused: set[str] = frozenset(), broken: set[str] = frozenset()) -> None:
        self.barrier = threading.Barrier(parties, timeout=5)
        self.refused, self.broken = refused, broken
        self.released: list[str] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def release(self, key: dict[str, Any], claim: Claim) -> bool:
        self.barrier.wait()
        with self.lock:
            self.threads.add(threading.current_thread().name)
            self.released.append(key["name"])
        if key["name"] in self.broken:
            raise DataAccessError("storage is unavailable")
        return key["name"] not in self.refused


def targets(items: Items, *names: str) -> list[ClaimTarget]:
    return [ClaimTarget(items, {"name": name}) for name in names]  # type: ignore[arg-type]


def test_several_claims_are_released_side_by_side_and_answered_in_order() -> None:
    items = Items(4, refused={"b"})

    assert release_all(targets(items, "a", "b", "c", "d"), CLAIM) == [True, False, True, True]
    assert sorted(items.released) == ["a", "b", "c", "d"] and len(items.threads) == 4


def test_one_failed_release_raises_after_every_other_was_tried() -> None:
    items = Items(3, broken={"a"})

    with pytest.raises(DataAccessError):
        release_all(targets(items, "a", "b", "c"), CLAIM)
    assert sorted(items.released) == ["a", "b", "c"]


def test_a_single_claim_is_released_in_the_caller_thread() -> None:
    items = Items(1)

    assert release_all(targets(items, "only"), CLAIM) == [True]
    assert items.threads == {threading.current_thread().name}
    assert release_all([], CLAIM) == []
