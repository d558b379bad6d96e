"""System health (DESIGN section 4, System response) and the trading system's reported status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import Field

from alphapulse.core.inputs import Model
from alphapulse.core.times import UtcDatetime

OverallStatus = Literal["ok", "degraded", "down"]
DatabaseState = Literal["ok", "degraded", "down"]
EventFeedState = Literal["ok", "degraded", "unknown"]

# Bounds that keep every reported number storable in DynamoDB.
_MAX = 1e15
_MAX_INT = 2**63 - 1


class CpuStatus(Model):
    usage_percent: float = Field(ge=0, le=100, allow_inf_nan=False)
    cores: int = Field(ge=1, le=_MAX_INT)


class MemoryStatus(Model):
    total_mb: float = Field(ge=0, le=_MAX, allow_inf_nan=False)
    used_mb: float = Field(ge=0, le=_MAX, allow_inf_nan=False)
    percent: float = Field(ge=0, le=100, allow_inf_nan=False)


class DiskStatus(Model):
    total_gb: float = Field(ge=0, le=_MAX, allow_inf_nan=False)
    used_gb: float = Field(ge=0, le=_MAX, allow_inf_nan=False)
    percent: float = Field(ge=0, le=100, allow_inf_nan=False)


class ProcessStatus(Model):
    pid: int = Field(ge=0, le=_MAX_INT)
    memory_mb: float = Field(ge=0, le=_MAX, allow_inf_nan=False)
    threads: int = Field(ge=0, le=_MAX_INT)
    uptime_seconds: float = Field(ge=0, le=_MAX, allow_inf_nan=False)


class TradingSystemStatus(Model):
    """The trading system's latest SystemStatusReported detail; `reported_at` is the event's timestamp."""

    cpu: CpuStatus
    memory: MemoryStatus
    disk: DiskStatus
    process: ProcessStatus
    reported_at: UtcDatetime


class DatabaseComponent(Model):
    """`ok` when the probe read answered within the threshold, `degraded` when slower, `down` when it failed."""

    status: DatabaseState
    latency_ms: float | None = Field(description="Duration of the probe read; null when it failed")


class EventFeedComponent(Model):
    """Freshness of the newest stored event of the tenant (trade, portfolio, metrics or system status)."""

    status: EventFeedState = Field(description="ok: newest event younger than the threshold; unknown: none yet")
    last_event_at: UtcDatetime | None
    lag_seconds: float | None


class WebSocketComponent(Model):
    connections: int = Field(ge=0)


class SystemComponents(Model):
    database: DatabaseComponent
    event_feed: EventFeedComponent
    websocket: WebSocketComponent


class SystemStatus(Model):
    """The backend's health as one tenant sees it, and the trading system's latest report."""

    status: OverallStatus
    components: SystemComponents
    trading_system: TradingSystemStatus | None


class HealthStatus(Model):
    status: Literal["ok"] = "ok"


@dataclass(frozen=True)
class LatestState:
    """What one read of the tenant's LATEST items found."""

    trading_system: TradingSystemStatus | None
    portfolio_as_of: datetime | None
