"""The portfolio domain's collaborators (core.wiring explains the pattern)."""

from __future__ import annotations

from functools import cached_property

from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider
from alphapulse.portfolio.repositories import PortfolioRepository


class PortfolioDependencies(Dependencies):
    @cached_property
    def portfolio(self) -> PortfolioRepository:
        """Portfolio snapshots and their history (DATA_TABLE)."""
        return PortfolioRepository(get_settings().require_data_table())


dependencies = Provider(PortfolioDependencies)
