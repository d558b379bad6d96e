"""System logic: the backend's health as a tenant sees it (DESIGN section 4, System response).

- `components.database`: one real read (the tenant's LATEST system and portfolio items, in one
  BatchGetItem), timed. `ok` below DATABASE_DEGRADED_MS, `degraded` at or above, `down` when a
  read fails.
- `components.event_feed`: the newest stored event time of the tenant among its newest trade,
  latest portfolio snapshot, latest system status and latest metric values (event times, as
  the engine reported them). `ok` when it is younger than EVENT_FEED_STALE_AFTER, `degraded`
  when older, `unknown` (with nulls) when nothing ever arrived. A time in the future (clock
  skew) counts as a lag of 0.
- `components.websocket`: the tenant's live WebSocket connections (0 when the database is down).
- `status`: `down` when the database is down, else `degraded` when the database or the event
  feed is degraded, else `ok` (an event feed that never delivered does not degrade it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from alphapulse.core.errors import DataAccessError
from alphapulse.core.times import to_utc
from alphapulse.system.models import (
    DatabaseComponent,
    EventFeedComponent,
    LatestState,
    OverallStatus,
    SystemComponents,
    SystemStatus,
    TradingSystemStatus,
    WebSocketComponent,
)

DATABASE_DEGRADED_MS = 1000.0
EVENT_FEED_STALE_AFTER = timedelta(minutes=5)


class SystemReader(Protocol):
    """What the system logic reads (implemented by system.repositories.SystemRepository)."""

    def latest_state(self, tenant_id: str) -> LatestState: ...

    def latest_trade_at(self, tenant_id: str) -> datetime | None: ...

    def latest_metric_at(self, tenant_id: str) -> datetime | None: ...

    def live_connections(self, tenant_id: str) -> int: ...


def event_feed(last_event_at: datetime | None, now: datetime) -> EventFeedComponent:
    """Freshness of the newest stored event (see the module docstring for the thresholds)."""
    if last_event_at is None:
        return EventFeedComponent(status="unknown", last_event_at=None, lag_seconds=None)
    lag = max((to_utc(now) - to_utc(last_event_at)).total_seconds(), 0.0)
    status = "ok" if lag < EVENT_FEED_STALE_AFTER.total_seconds() else "degraded"
    return EventFeedComponent(status=status, last_event_at=last_event_at, lag_seconds=round(lag, 3))


def overall_status(database: DatabaseComponent, feed: EventFeedComponent) -> OverallStatus:
    """The top-level status from the components' (see the module docstring)."""
    if database.status == "down":
        return "down"
    if database.status == "degraded" or feed.status == "degraded":
        return "degraded"
    return "ok"


def system_status(
    reader: SystemReader,
    tenant_id: str,
    *,
    now: datetime,
    clock: Callable[[], float] = time.perf_counter,
) -> SystemStatus:
    """The system response for `tenant_id`. A storage failure is reported as `down`, never raised."""
    trading_system: TradingSystemStatus | None = None
    latency_ms: float | None = None
    connections = 0
    try:
        started = clock()
        state = reader.latest_state(tenant_id)
        latency_ms = round((clock() - started) * 1000, 3)
        trading_system = state.trading_system
        times = [
            state.portfolio_as_of,
            trading_system.reported_at if trading_system else None,
            reader.latest_trade_at(tenant_id),
            reader.latest_metric_at(tenant_id),
        ]
        connections = reader.live_connections(tenant_id)
    except DataAccessError:
        database = DatabaseComponent(status="down", latency_ms=latency_ms)
        feed = EventFeedComponent(status="unknown", last_event_at=None, lag_seconds=None)
    else:
        database = DatabaseComponent(
            status="ok" if latency_ms < DATABASE_DEGRADED_MS else "degraded", latency_ms=latency_ms
        )
        known = [moment for moment in times if moment is not None]
        feed = event_feed(max(known) if known else None, now)
    return SystemStatus(
        status=overall_status(database, feed),
        components=SystemComponents(
            database=database,
            event_feed=feed,
            websocket=WebSocketComponent(connections=connections),
        ),
        trading_system=trading_system,
    )


def trading_system_state(reader: SystemReader, tenant_id: str) -> dict[str, Any] | None:
    """What the `system` channel pushes: the trading system's latest reported status, or None."""
    status = reader.latest_state(tenant_id).trading_system
    return status.model_dump(mode="json") if status is not None else None
