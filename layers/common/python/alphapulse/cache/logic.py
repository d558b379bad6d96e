"""A read-through cache of GET responses, invalidated by per-(tenant, domain) versions (DESIGN section 7).

A response is cached under its request's digest (tenant, route, normalised query, the caller's permissions:
`web.cache` builds it) together with the versions of the domains it shows. Every write that changes a domain
bumps its version (`cache.wiring.changed`), after writing its data, so an entry computed from older data
records an older version and misses from then on. A lookup is one read of the versions (strongly consistent)
and the entry.

Concurrent misses of one request compute it once: the first takes a short lease (a conditional write), the
others poll for its entry and serve it, or compute it themselves if it does not come in time. Storing the entry
ends the lease; a computation that stores nothing gives it up.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from typing import Protocol

from alphapulse.cache.models import Answer, Entry, Versions
from alphapulse.core.errors import DataAccessError
from alphapulse.core.observability import get_logger

LEASE_SECONDS = 5.0  # how long one computation holds its request; another may take over after it
WAIT_SECONDS = 2.0  # how long the others wait for its entry before they compute it themselves
POLL_SECONDS = 0.025
# Reads through an index (and eventually consistent ones) may trail a write briefly: an entry computed within
# this long of a change of its domains is kept only until then, so that it is computed again once.
SETTLE_SECONDS = 1


class CacheStore(Protocol):
    def lookup(self, tenant_id: str, digest: str) -> tuple[Versions, Entry | None]: ...
    def entry(self, tenant_id: str, digest: str) -> Entry | None: ...
    def store(self, tenant_id: str, digest: str, entry: Entry) -> bool: ...
    def take_lease(self, tenant_id: str, digest: str, *, now_ms: int, seconds: float) -> bool: ...
    def release_lease(self, tenant_id: str, digest: str) -> None: ...


def etag_of(body: bytes) -> str:
    """A strong ETag: a digest of the body, so every container gives the same body the same tag."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class ResponseCache:
    def __init__(
        self,
        store: CacheStore,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.wait_seconds = wait_seconds

    def answer(
        self, tenant_id: str, request: str, domains: tuple[str, ...], ttl: int, compute: Callable[[], bytes]
    ) -> Answer:
        """The cached response to `request` if it is valid, else `compute()`'s (then cached for `ttl` seconds)."""
        digest = hashlib.sha256(request.encode()).hexdigest()
        versions, entry = self.store.lookup(tenant_id, digest)
        wanted = versions.of(domains)
        if entry is not None and entry.valid(wanted, self.clock()):
            return Answer(entry.body, entry.etag, hit=True)
        if not self.store.take_lease(tenant_id, digest, now_ms=self._now_ms(), seconds=LEASE_SECONDS):
            computed = self._wait_for(tenant_id, digest, wanted)
            if computed is not None:
                return Answer(computed.body, computed.etag, hit=True)
            answer, _ = self._compute(tenant_id, digest, versions, domains, ttl, compute)
            return answer
        stored = False
        try:
            answer, stored = self._compute(tenant_id, digest, versions, domains, ttl, compute)
            return answer
        finally:
            if not stored:
                with contextlib.suppress(DataAccessError):  # it expires on its own
                    self.store.release_lease(tenant_id, digest)

    def _compute(
        self,
        tenant_id: str,
        digest: str,
        versions: Versions,
        domains: tuple[str, ...],
        ttl: int,
        compute: Callable[[], bytes],
    ) -> tuple[Answer, bool]:
        """The computed answer, and whether its entry was stored."""
        body = compute()
        now = self.clock()
        expires_at = int(now) + ttl
        changed_ms = versions.last_change_ms(domains)
        if now * 1000 - changed_ms < SETTLE_SECONDS * 1000:
            expires_at = min(expires_at, changed_ms // 1000 + SETTLE_SECONDS + 1)
        entry = Entry(body, etag_of(body), versions.of(domains), expires_at)
        try:
            stored = self.store.store(tenant_id, digest, entry)
        except DataAccessError:
            get_logger().warning("could not store a cache entry", exc_info=True)
            stored = False
        return Answer(entry.body, entry.etag, hit=False), stored

    def _wait_for(self, tenant_id: str, digest: str, versions: str) -> Entry | None:
        """The entry another caller is computing, once stored; None when it does not come in time."""
        deadline = self.clock() + self.wait_seconds
        while self.clock() < deadline:
            self.sleep(POLL_SECONDS)
            entry = self.store.entry(tenant_id, digest)
            if entry is not None and entry.valid(versions, self.clock()):
                return entry
        return None

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)
