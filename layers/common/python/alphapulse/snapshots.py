"""The current state of the state channels, as pushed (`portfolio`, `system`).

- `portfolio`: the body of REST GET /api/v1/portfolio without history;
- `system`: the `trading_system` object of REST GET /api/v1/system (null before the first report).

Ingestion publishes the same shapes, so a subscriber's first state and later pushes look alike.
The imports are deferred: these models bring FastAPI along, which only these reads should pay for.
"""

from __future__ import annotations

from typing import Any


def portfolio_state(data_table: str, tenant_id: str) -> dict[str, Any]:
    """The tenant's valued portfolio (zeros and `updated_at: null` before the first snapshot)."""
    from alphapulse.portfolio import get_portfolio
    from alphapulse.repositories.portfolio import PortfolioRepository

    return get_portfolio(PortfolioRepository(data_table), tenant_id).model_dump(mode="json", exclude_unset=True)


def system_state(data_table: str, tenant_id: str) -> dict[str, Any] | None:
    """The trading system's latest reported status, or None."""
    from alphapulse.repositories.system import SystemRepository

    status = SystemRepository(data_table).latest_state(tenant_id).trading_system
    return status.model_dump(mode="json") if status is not None else None
