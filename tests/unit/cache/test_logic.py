"""ResponseCache against an in-memory store: hits, version and expiry misses, leases, the settle window."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from alphapulse.cache.logic import ResponseCache, etag_of
from alphapulse.cache.models import Entry, Versions
from alphapulse.core.errors import DataAccessError


class MemoryStore:
    """The cache table in memory (one tenant is enough here)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.numbers: dict[str, int] = {}
        self.changed_ms: dict[str, int] = {}
        self.entries: dict[str, Entry] = {}
        self.leases: dict[str, int] = {}
        self.lookups = 0
        self.releases = 0
        self.lock = threading.Lock()
        self.fail_store = False

    def lookup(self, tenant_id: str, digest: str) -> tuple[Versions, Entry | None]:
        with self.lock:
            self.lookups += 1
            return Versions(dict(self.numbers), dict(self.changed_ms)), self.entries.get(tenant_id + digest)

    def entry(self, tenant_id: str, digest: str) -> Entry | None:
        return self.entries.get(tenant_id + digest)

    def store(self, tenant_id: str, digest: str, entry: Entry) -> bool:
        """As the table does: the entry replaces its item, and so the lease on it."""
        if self.fail_store:
            raise DataAccessError("storage unavailable during store a cache entry")
        self.entries[tenant_id + digest] = entry
        self.leases.pop(tenant_id + digest, None)
        return True

    def take_lease(self, tenant_id: str, digest: str, *, now_ms: int, seconds: float) -> bool:
        with self.lock:
            if self.leases.get(tenant_id + digest, 0) >= now_ms:
                return False
            self.leases[tenant_id + digest] = now_ms + int(seconds * 1000)
            return True

    def release_lease(self, tenant_id: str, digest: str) -> None:
        self.releases += 1
        self.leases.pop(tenant_id + digest, None)

    def bump(self, tenant_id: str, domains: tuple[str, ...], *, now_ms: int) -> None:
        for domain in domains:
            self.numbers[domain] = self.numbers.get(domain, 0) + 1
            self.changed_ms[domain] = now_ms


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Counter:
    def __init__(self, body: bytes = b'{"n":1}', pause: float = 0.0) -> None:
        self.calls, self.body, self.pause = 0, body, pause

    def __call__(self) -> bytes:
        self.calls += 1
        time.sleep(self.pause)
        return self.body


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryStore:
    return MemoryStore(clock)


@pytest.fixture
def cache(store: MemoryStore, clock: Clock) -> ResponseCache:
    return ResponseCache(store, clock=clock, sleep=lambda seconds: None, wait_seconds=0.0)


def test_a_miss_then_a_hit_with_the_same_body_and_etag(cache: ResponseCache) -> None:
    compute = Counter()
    first = cache.answer("default", "list_trades", ("trades",), 30, compute)
    second = cache.answer("default", "list_trades", ("trades",), 30, compute)
    assert (first.hit, second.hit) == (False, True)
    assert first.body == second.body == b'{"n":1}' and first.etag == second.etag == etag_of(b'{"n":1}')
    assert compute.calls == 1


def test_a_change_of_a_shown_domain_misses_and_of_another_domain_does_not(
    cache: ResponseCache, store: MemoryStore, clock: Clock
) -> None:
    compute = Counter()
    cache.answer("default", "portfolio", ("portfolio", "trades"), 30, compute)
    cache.answer("default", "alerts", ("alerts",), 30, compute)
    clock.now += 5  # past the settle window of the first fill
    store.bump("default", ("trades",), now_ms=int(clock.now * 1000))
    assert not cache.answer("default", "portfolio", ("portfolio", "trades"), 30, compute).hit
    assert cache.answer("default", "alerts", ("alerts",), 30, compute).hit


def test_an_expired_entry_is_a_miss_while_the_store_still_returns_it(
    cache: ResponseCache, store: MemoryStore, clock: Clock
) -> None:
    compute = Counter()
    cache.answer("default", "list_trades", ("trades",), 10, compute)
    clock.now += 10  # exactly at expiry: DynamoDB has not deleted it yet, but it is not valid
    assert len(store.entries) == 1
    assert not cache.answer("default", "list_trades", ("trades",), 10, compute).hit
    assert compute.calls == 2


def test_tenants_and_requests_never_share_an_entry(cache: ResponseCache) -> None:
    compute = Counter()
    cache.answer("default", "list_trades\n?limit=5", ("trades",), 30, compute)
    assert not cache.answer("acme", "list_trades\n?limit=5", ("trades",), 30, compute).hit
    assert not cache.answer("default", "list_trades\n?limit=6", ("trades",), 30, compute).hit


def test_an_entry_computed_just_after_a_change_is_kept_only_briefly(
    cache: ResponseCache, store: MemoryStore, clock: Clock
) -> None:
    # A read through an index may not see a write of half a second ago yet
    store.bump("default", ("trades",), now_ms=int(clock.now * 1000))
    clock.now += 0.5
    cache.answer("default", "list_trades", ("trades",), 30, Counter())
    (entry,) = store.entries.values()
    assert entry.expires_at <= clock.now + 2
    clock.now += 2
    assert not cache.answer("default", "list_trades", ("trades",), 30, Counter()).hit


def test_concurrent_misses_of_one_request_compute_it_once(store: MemoryStore) -> None:
    cache = ResponseCache(store, wait_seconds=5.0)  # the real clock and sleep
    compute = Counter(pause=0.3)
    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(cache.answer("default", "k", ("trades",), 30, compute)))
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert compute.calls == 1
    assert sorted(answer.hit for answer in answers) == [False] + [True] * 19
    assert {answer.body for answer in answers} == {b'{"n":1}'}


def test_a_waiter_whose_lease_holder_never_stores_computes_it_itself(store: MemoryStore, clock: Clock) -> None:
    store.leases["default" + hashlib.sha256(b"k").hexdigest()] = int(clock.now * 1000) + 5000
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    cache = ResponseCache(store, clock=clock, sleep=sleep, wait_seconds=0.5)
    compute = Counter()
    answer = cache.answer("default", "k", ("trades",), 30, compute)
    assert not answer.hit and compute.calls == 1 and 0.5 <= sum(slept) < 0.6


def test_a_compute_error_is_not_cached_and_releases_the_lease(cache: ResponseCache, store: MemoryStore) -> None:
    def failing() -> bytes:
        raise LookupError("no such trade")

    with pytest.raises(LookupError):
        cache.answer("default", "k", ("trades",), 30, failing)
    assert store.entries == {} and store.leases == {}


def test_a_store_that_fails_still_answers_and_gives_the_lease_up(cache: ResponseCache, store: MemoryStore) -> None:
    store.fail_store = True
    assert cache.answer("default", "k", ("trades",), 30, Counter()).body == b'{"n":1}'
    assert store.leases == {} and store.releases == 1


def test_a_stored_entry_ends_the_lease_without_another_write(cache: ResponseCache, store: MemoryStore) -> None:
    assert not cache.answer("default", "k", ("trades",), 30, Counter()).hit
    assert store.leases == {} and store.releases == 0


def test_an_entry_the_store_does_not_keep_gives_the_lease_up(cache: ResponseCache, store: MemoryStore) -> None:
    store.store = lambda tenant_id, digest, entry: False  # type: ignore[method-assign]  # too large for an item
    assert not cache.answer("default", "k", ("trades",), 30, Counter()).hit
    assert store.leases == {} and store.releases == 1
