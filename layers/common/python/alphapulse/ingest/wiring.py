"""Ingest's collaborators: the repositories it writes to and the publisher of its pushes (core.wiring
explains the pattern). Each is imported at its first use: the ingest function writes trading events only, and
the alert ingest function alerts only."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider

if TYPE_CHECKING:
    from alphapulse.alerts.repositories.alerts import AlertRepository
    from alphapulse.cache.models import Changed
    from alphapulse.ingest.logic.trading import TradingStores
    from alphapulse.realtime.protocol import Publisher


class IngestDependencies(Dependencies):
    @cached_property
    def stores(self) -> TradingStores:
        """The repositories of the data table that trading events are written to (DATA_TABLE)."""
        from alphapulse.ingest.logic.trading import TradingStores
        from alphapulse.metrics.repositories import MetricRepository
        from alphapulse.portfolio.repositories import PortfolioRepository
        from alphapulse.system.repositories import SystemRepository
        from alphapulse.trades.repositories import TradeRepository

        table = get_settings().require_data_table()
        return TradingStores(
            trades=TradeRepository(table),
            portfolio=PortfolioRepository(table),
            metrics=MetricRepository(table),
            system=SystemRepository(table),
        )

    @cached_property
    def alerts(self) -> AlertRepository:
        """The alerts of the data table (DATA_TABLE)."""
        from alphapulse.alerts.repositories.alerts import AlertRepository

        return AlertRepository(get_settings().require_data_table())

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
