"""Ingest's collaborators: the repositories it writes to and the publisher of its pushes (core.wiring
explains the pattern)."""

from __future__ import annotations

from functools import cached_property

from alphapulse.alerts.repositories.alerts import AlertRepository
from alphapulse.cache.models import Changed
from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider
from alphapulse.ingest.logic import IngestStores
from alphapulse.metrics.repositories import MetricRepository
from alphapulse.portfolio.repositories import PortfolioRepository
from alphapulse.realtime.protocol import Publisher
from alphapulse.system.repositories import SystemRepository
from alphapulse.trades.repositories import TradeRepository


class IngestDependencies(Dependencies):
    @cached_property
    def stores(self) -> IngestStores:
        """The repositories of the data table that ingest writes to (DATA_TABLE)."""
        table = get_settings().require_data_table()
        return IngestStores(
            trades=TradeRepository(table),
            portfolio=PortfolioRepository(table),
            metrics=MetricRepository(table),
            system=SystemRepository(table),
            alerts=AlertRepository(table),
        )

    @cached_property
    def changed(self) -> Changed:
        """Invalidates the cached responses of what was written (CACHE_TABLE)."""
        from alphapulse.cache import wiring

        return wiring.changed

    @cached_property
    def publish(self) -> Publisher:
        """Pushes to WebSocket subscribers."""
        from alphapulse.realtime import wiring

        return wiring.publish


dependencies = Provider(IngestDependencies)
