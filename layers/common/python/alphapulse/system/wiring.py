"""The system domain's collaborators (core.wiring explains the pattern)."""

from __future__ import annotations

from functools import cached_property

from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider
from alphapulse.system.repositories import SystemRepository


class SystemDependencies(Dependencies):
    @cached_property
    def system(self) -> SystemRepository:
        """The latest system status and what GET /system probes (DATA_TABLE)."""
        return SystemRepository(get_settings().require_data_table())


dependencies = Provider(SystemDependencies)
