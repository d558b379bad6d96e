"""The trades domain's collaborators (core.wiring explains the pattern)."""

from __future__ import annotations

from functools import cached_property

from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider
from alphapulse.trades.repositories import TradeRepository


class TradesDependencies(Dependencies):
    @cached_property
    def trades(self) -> TradeRepository:
        """The tenant's trades (DATA_TABLE)."""
        return TradeRepository(get_settings().require_data_table())


dependencies = Provider(TradesDependencies)
