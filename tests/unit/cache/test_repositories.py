"""CacheRepository against moto: the lease lives on the entry's item, so that storing the entry ends it; an item
with only a lease is no entry; a lease is refused while held and taken over once past; giving it up leaves the
entry, and creates nothing where there is no item."""

from __future__ import annotations

import random
from typing import Any

import pytest

from alphapulse.aws import dynamodb
from alphapulse.aws.dynamodb import from_item
from alphapulse.cache.models import Entry
from alphapulse.cache.repositories import MAX_BODY_BYTES, CacheRepository, _entry_key

TENANT, DIGEST = "acme", "d" * 64
NOW_MS = 1_800_000_000_000
ENTRY = Entry(b'{"n":1}', '"tag"', "trades=3", expires_at=NOW_MS // 1000 + 30)


class Counting:
    """The process's DynamoDB client, counting the writes sent."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**params: Any) -> Any:
            if operation in ("put_item", "update_item", "delete_item"):
                self.writes.append(operation)
            return getattr(dynamodb.client(), operation)(**params)

        return call


@pytest.fixture
def client(aws: dict[str, str]) -> Counting:
    return Counting()


@pytest.fixture
def repo(aws: dict[str, str], client: Counting) -> CacheRepository:
    return CacheRepository(aws["CacheTable"], aws["DataTable"], client=client)  # type: ignore[arg-type]


def item(repo: CacheRepository) -> dict[str, Any] | None:
    found = dynamodb.client().get_item(TableName=repo.table, Key=_entry_key(TENANT, DIGEST), ConsistentRead=True)
    return from_item(found["Item"]) if "Item" in found else None


def take(repo: CacheRepository, now_ms: int = NOW_MS) -> bool:
    return repo.take_lease(TENANT, DIGEST, now_ms=now_ms, seconds=5)


def test_a_lease_alone_is_no_entry_and_expires_with_the_lease(repo: CacheRepository) -> None:
    assert take(repo)
    assert item(repo) == {"pk": f"T#{TENANT}#ENTRY#{DIGEST}", "sk": "ENTRY", "lease_until_ms": NOW_MS + 5000,
                          "expires_at": (NOW_MS + 5000) // 1000 + 1}  # fmt: skip
    assert repo.lookup(TENANT, DIGEST)[1] is None
    assert repo.entry(TENANT, DIGEST) is None


def test_a_held_lease_is_refused_until_it_has_passed(repo: CacheRepository) -> None:
    assert take(repo)
    assert not take(repo, NOW_MS + 4999)
    assert not take(repo, NOW_MS + 5000)
    assert take(repo, NOW_MS + 5001)
    assert item(repo)["lease_until_ms"] == NOW_MS + 10_001  # type: ignore[index]


def test_storing_the_entry_ends_the_lease_in_the_same_write(repo: CacheRepository, client: Counting) -> None:
    assert take(repo)
    assert repo.store(TENANT, DIGEST, ENTRY)
    assert client.writes == ["update_item", "put_item"]
    stored = item(repo)
    assert stored is not None and "lease_until_ms" not in stored and stored["expires_at"] == ENTRY.expires_at
    assert repo.entry(TENANT, DIGEST) == ENTRY and repo.lookup(TENANT, DIGEST)[1] == ENTRY
    assert take(repo)  # free again at once, for the next change


def test_a_lease_on_an_entry_keeps_it_readable_until_the_lease_ends(repo: CacheRepository) -> None:
    repo.store(TENANT, DIGEST, ENTRY)
    assert take(repo)
    seen = repo.entry(TENANT, DIGEST)
    assert seen is not None and seen.body == ENTRY.body and seen.versions == ENTRY.versions
    assert seen.expires_at == (NOW_MS + 5000) // 1000 + 1  # gone with a lease holder that never stores


def test_giving_a_lease_up_keeps_the_entry_and_frees_the_lease(repo: CacheRepository) -> None:
    repo.store(TENANT, DIGEST, ENTRY)
    assert take(repo)
    repo.release_lease(TENANT, DIGEST)
    stored = item(repo)
    assert stored is not None and "lease_until_ms" not in stored and "body" in stored
    assert take(repo)


def test_giving_up_a_lease_that_is_not_there_writes_no_item(repo: CacheRepository) -> None:
    repo.release_lease(TENANT, DIGEST)
    assert item(repo) is None


def test_an_entry_too_large_for_an_item_is_not_kept_and_the_lease_stays(repo: CacheRepository) -> None:
    assert take(repo)
    noise = random.Random(7).randbytes(MAX_BODY_BYTES + 1)  # does not compress
    large = Entry(noise, '"large"', "trades=3", ENTRY.expires_at)
    assert not repo.store(TENANT, DIGEST, large)
    stored = item(repo)
    assert stored is not None and "body" not in stored and stored["lease_until_ms"] == NOW_MS + 5000
