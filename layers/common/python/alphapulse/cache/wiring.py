"""The response cache's collaborators (core.wiring explains the pattern). Without CACHE_TABLE nothing is
cached and nothing is invalidated."""

from __future__ import annotations

from functools import cached_property

from alphapulse.cache.logic import ResponseCache
from alphapulse.cache.repositories import CacheRepository
from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider


class CacheDependencies(Dependencies):
    @cached_property
    def cache(self) -> ResponseCache | None:
        """GET responses, and the versions that invalidate them (CACHE_TABLE)."""
        table = get_settings().cache_table
        return ResponseCache(CacheRepository(table)) if table else None


dependencies = Provider(CacheDependencies)


def changed(tenant_id: str, *domains: str) -> None:
    """Invalidate the cached responses that show the tenant's `domains` (after their data was written)."""
    cache = dependencies().cache
    if cache is not None:
        cache.changed(tenant_id, *domains)
