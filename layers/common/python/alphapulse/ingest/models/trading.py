"""The trading engine's EventBridge events (DESIGN section 6): `parse_trading_event` turns a Lambda event into
a validated detail, or raises InvalidEventError.

MetricsReported and SystemStatusReported are also what the rules engine evaluates: each is an
`alerts.models.MetricReport` (its `values` by metric name, and its `labels`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationError

from alphapulse.core.inputs import Labels, Model
from alphapulse.core.keys import DEFAULT_TENANT, METRIC_NAME_PATTERN, valid_tenant_id
from alphapulse.core.times import EARLIEST, UtcDatetime, iso
from alphapulse.ingest.models.checks import (
    InvalidEventError,
    check_event,
    check_not_ahead,
    check_storable,
    latest_allowed,
    reason,
)
from alphapulse.portfolio.models import PortfolioSnapshot
from alphapulse.system.models import CpuStatus, DiskStatus, MemoryStatus, ProcessStatus, TradingSystemStatus
from alphapulse.trades.models import Trade

SOURCE = "alphapulse.trading"
MAX_METRICS_PER_EVENT = 50
"""Every metric of a report is stored in one transaction (see MetricRepository.put_points)."""
# DynamoDB numbers: magnitudes from 1e-130 to below 1e126, and zero.
_LARGEST = 1e125
_SMALLEST = 1e-130


def _tenant(tenant_id: str) -> str:
    if not valid_tenant_id(tenant_id):
        raise ValueError("tenant_id must be lower-case letters, digits and '-' (at most 63)")
    return tenant_id


def _sortable(moment: datetime) -> datetime:
    # Stored times are sort keys: fixed-width ISO strings exist from year 1000 on.
    if moment < EARLIEST:
        raise ValueError("time must not be before the year 1000")
    return moment


def _storable(value: float) -> float:
    if not math.isfinite(value) or abs(value) > _LARGEST or (value != 0 and abs(value) < _SMALLEST):
        raise ValueError("metric value cannot be stored (finite, |value| < 1e125, and not below 1e-130)")
    return value


SYSTEM_METRICS: dict[str, tuple[str, str]] = {
    # metric name -> (component, field) of SystemStatusReported, as alert rules name them
    "cpu_usage_percent": ("cpu", "usage_percent"),
    "memory_usage_percent": ("memory", "percent"),
    "disk_usage_percent": ("disk", "percent"),
}

TenantId = Annotated[str, AfterValidator(_tenant)]
EventTime = Annotated[UtcDatetime, AfterValidator(_sortable)]
MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]
MetricNumber = Annotated[float, Field(strict=True, allow_inf_nan=False), AfterValidator(_storable)]


class TradeExecuted(Trade):
    """`TradeExecuted`: the trade fields, plus the optional tenant and the time of this report of the trade
    (`updated_at`: a later fill or a cancel reports the same trade again, newer)."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: TenantId = DEFAULT_TENANT
    updated_at: EventTime | None = None

    def trade(self) -> Trade:
        return Trade.model_validate(self.model_dump(exclude={"tenant_id", "updated_at"}))

    def version(self) -> str:
        """When this report was made: `updated_at`, else `executed_at` (fixed-width ISO, so it sorts)."""
        return iso(self.updated_at or self.executed_at)


class PortfolioUpdated(PortfolioSnapshot):
    """`PortfolioUpdated`: a snapshot as reported; values, pnl and totals are computed by the backend."""

    tenant_id: TenantId = DEFAULT_TENANT
    as_of: EventTime

    def snapshot(self) -> PortfolioSnapshot:
        return PortfolioSnapshot.model_validate(self.model_dump(exclude={"tenant_id"}))


class MetricsReported(Model):
    """`MetricsReported`: values of named metrics at one time, with optional labels."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: TenantId = DEFAULT_TENANT
    timestamp: EventTime
    metrics: Annotated[dict[MetricName, MetricNumber], Field(min_length=1, max_length=MAX_METRICS_PER_EVENT)]
    labels: Labels = Field(default_factory=dict)

    @property
    def values(self) -> Mapping[str, float]:
        """What the rules engine evaluates: the metrics, by name."""
        return self.metrics


class SystemStatusReported(Model):
    """`SystemStatusReported`: the trading system's resources, in the shapes of the system response."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: TenantId = DEFAULT_TENANT
    timestamp: EventTime
    cpu: CpuStatus
    memory: MemoryStatus
    disk: DiskStatus
    process: ProcessStatus

    def status(self) -> TradingSystemStatus:
        return TradingSystemStatus(
            cpu=self.cpu, memory=self.memory, disk=self.disk, process=self.process, reported_at=self.timestamp
        )

    @property
    def values(self) -> Mapping[str, float]:
        """What the rules engine evaluates: the resources, by metric name (SYSTEM_METRICS)."""
        return {
            metric: float(getattr(getattr(self, component), name))
            for metric, (component, name) in SYSTEM_METRICS.items()
        }

    @property
    def labels(self) -> Mapping[str, str]:
        return {}


TradingDetail = TradeExecuted | PortfolioUpdated | MetricsReported | SystemStatusReported
DETAIL_TYPES: dict[str, type[TradingDetail]] = {
    "TradeExecuted": TradeExecuted,
    "PortfolioUpdated": PortfolioUpdated,
    "MetricsReported": MetricsReported,
    "SystemStatusReported": SystemStatusReported,
}


class EventBridgeEnvelope(Model):
    """The parts of an EventBridge event that we read."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str | None = None
    source: Literal["alphapulse.trading"]
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]


def parse_trading_event(event: Mapping[str, Any], *, now: datetime | None = None) -> TradingDetail:
    """The validated detail of an EventBridge event of the trading engine; InvalidEventError otherwise
    (also for a time more than MAX_CLOCK_SKEW after `now`, by default the current time)."""
    try:
        envelope = EventBridgeEnvelope.model_validate(check_event(event))
    except ValidationError as exc:
        raise InvalidEventError(f"not an EventBridge event of {SOURCE}: {reason(exc, EventBridgeEnvelope)}") from None
    model = DETAIL_TYPES.get(envelope.detail_type)
    if model is None:
        raise InvalidEventError(f"unknown detail-type {envelope.detail_type[:64]!r}")
    try:
        detail = model.model_validate(envelope.detail)
    except ValidationError as exc:
        raise InvalidEventError(f"invalid {envelope.detail_type}: {reason(exc, model)}") from None
    if isinstance(detail, TradeExecuted | PortfolioUpdated):
        check_storable(detail.model_dump(), f"invalid {envelope.detail_type}")
    check_not_ahead(detail.model_dump(), f"invalid {envelope.detail_type}", latest_allowed(now))
    return detail
