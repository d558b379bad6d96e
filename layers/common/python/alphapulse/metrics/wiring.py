"""The metrics domain's collaborators (core.wiring explains the pattern)."""

from __future__ import annotations

from functools import cached_property

from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider
from alphapulse.metrics.repositories import MetricRepository


class MetricsDependencies(Dependencies):
    @cached_property
    def metrics(self) -> MetricRepository:
        """Metric points and latest values (DATA_TABLE)."""
        return MetricRepository(get_settings().require_data_table())


dependencies = Provider(MetricsDependencies)
