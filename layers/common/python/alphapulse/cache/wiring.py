"""The response cache's collaborators (core.wiring explains the pattern). Without CACHE_TABLE nothing is
cached; the versions that writers move on live in the data table, so invalidation never depends on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property

from alphapulse.cache.logic import ResponseCache
from alphapulse.cache.repositories import CacheRepository, VersionRepository
from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider


class CacheDependencies(Dependencies):
    @cached_property
    def clock(self) -> Callable[[], float]:
        """The time of expiries and changes (epoch seconds)."""
        return time.time

    @cached_property
    def cache(self) -> ResponseCache | None:
        """GET responses (CACHE_TABLE), checked against the versions (DATA_TABLE)."""
        settings = get_settings()
        if not settings.cache_table:
            return None
        return ResponseCache(CacheRepository(settings.cache_table, settings.require_data_table()), clock=self.clock)

    @cached_property
    def versions(self) -> VersionRepository:
        """Each tenant's domain versions (DATA_TABLE)."""
        return VersionRepository(get_settings().require_data_table())


dependencies = Provider(CacheDependencies)


def changed(tenant_id: str, *domains: str) -> None:
    """Invalidate the cached responses that show the tenant's `domains` (after their data was written)."""
    deps = dependencies()
    deps.versions.bump(tenant_id, tuple(sorted(set(domains))), now_ms=int(deps.clock() * 1000))
