"""What the response cache keeps: entries, and the per-(tenant, domain) versions that invalidate them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

# What a write can change, and so what a cached route declares it shows. A route's entry is valid while every
# one of its domains is at the version the entry was computed at.
DOMAINS = frozenset({"trades", "portfolio", "metrics", "alerts", "rules", "system"})


class Changed(Protocol):
    """Invalidates the tenant's cached responses that show `domains` (`cache.wiring.changed`)."""

    def __call__(self, tenant_id: str, *domains: str) -> None: ...


@dataclass(frozen=True)
class Versions:
    """A tenant's version of each domain (0 before its first change), and when each last changed (epoch ms)."""

    numbers: Mapping[str, int] = field(default_factory=dict)
    changed_ms: Mapping[str, int] = field(default_factory=dict)

    def of(self, domains: tuple[str, ...]) -> str:
        """The versions of `domains`, as an entry records them: `alerts=3,rules=0`."""
        return ",".join(f"{domain}={self.numbers.get(domain, 0)}" for domain in sorted(domains))

    def last_change_ms(self, domains: tuple[str, ...]) -> int:
        return max((self.changed_ms.get(domain, 0) for domain in domains), default=0)


@dataclass(frozen=True)
class Entry:
    """A cached response body (as sent), its ETag, the versions it was computed at and its expiry (epoch s)."""

    body: bytes
    etag: str
    versions: str
    expires_at: int

    def valid(self, versions: str, now: float) -> bool:
        """Computed at these versions and not expired (DynamoDB deletes expired items only within days)."""
        return self.versions == versions and self.expires_at > now


@dataclass(frozen=True)
class Answer:
    """A response as the cache gives it: the body, its ETag, and whether it was served from the cache."""

    body: bytes
    etag: str
    hit: bool
