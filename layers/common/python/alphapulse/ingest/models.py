"""Events in (DESIGN section 6): the EventBridge details of the trading engine and the SNS alert messages.

`parse_trading_event` and `parse_alert_messages` turn a Lambda event into validated models, or raise
InvalidEventError with a reason that is safe to log (it names fields, never their values).

The envelopes are our own minimal models rather than Powertools' `EventBridgeModel`/`SnsModel`:
those require fields (signatures, unsubscribe URLs, account, region) that nothing here reads, and
that a replayed or hand-made event may not carry.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from alphapulse.alerts.models import AlertEvent, Labels, MetricReport
from alphapulse.core import inputs
from alphapulse.core.inputs import Model
from alphapulse.core.keys import DEFAULT_TENANT, METRIC_NAME_PATTERN, valid_tenant_id
from alphapulse.core.times import EARLIEST, UtcDatetime, iso, to_utc, utcnow
from alphapulse.portfolio.models import PortfolioSnapshot
from alphapulse.system.models import CpuStatus, DiskStatus, MemoryStatus, ProcessStatus, TradingSystemStatus
from alphapulse.trades.models import Trade

SOURCE = "alphapulse.trading"
MAX_EVENT_BYTES = 256 * 1024
"""EventBridge and SNS refuse larger entries; anything bigger did not come through them."""
MAX_METRICS_PER_EVENT = 50
"""Every metric of a report is stored in one transaction (see MetricRepository.put_points)."""
MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of our clock an event's time may be. A later time is refused: stored as the newest
(an alert's dedup key, a rule's state, the latest portfolio or system status), it would make every
real event after it count as older, for good."""
# DynamoDB numbers: magnitudes from 1e-130 to below 1e126, and zero.
_LARGEST = 1e125
_SMALLEST = 1e-130
_MAX_DIGITS = 38
_SHOWN_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class InvalidEventError(ValueError):
    """An event that can never be applied. Lambda retries it (every error of an asynchronous invocation
    is retried) and then sends it, with this error's type and message, to the function's DLQ."""


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

    def report(self) -> MetricReport:
        """The values the rules engine evaluates."""
        return MetricReport(self.tenant_id, self.timestamp, dict(self.metrics), dict(self.labels))


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

    def report(self) -> MetricReport:
        """The values the rules engine evaluates, by metric name (SYSTEM_METRICS)."""
        values = {
            metric: float(getattr(getattr(self, component), name))
            for metric, (component, name) in SYSTEM_METRICS.items()
        }
        return MetricReport(self.tenant_id, self.timestamp, values)


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


class SnsMessage(Model):
    model_config = ConfigDict(extra="ignore")

    Message: str
    MessageId: str | None = None


class SnsRecord(Model):
    model_config = ConfigDict(extra="ignore")

    Sns: SnsMessage


class SnsEnvelope(Model):
    model_config = ConfigDict(extra="ignore")

    Records: Annotated[list[SnsRecord], Field(min_length=1)]


def _field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """The field names (and aliases) of `model` and of the models nested in its fields."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.update(filter(None, (name, field.alias)))
        pending: list[Any] = [field.annotation]
        while pending:
            annotation = pending.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names |= _field_names(annotation, seen)
            elif isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
                pending.extend(typing.get_args(annotation))
    return names


def _location(loc: tuple[int | str, ...], known: set[str]) -> str:
    # Dict keys (metric names, label keys) are input: shown only when they are a storable metric name
    # of at most 64 characters (what the API would show anyway), otherwise as `*`.
    return ".".join(
        str(part) if isinstance(part, int) or part in known or _SHOWN_KEY.fullmatch(part) else "*" for part in loc
    )


def reason(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """A validation failure as text that names the fields and the problems, never the input values
    (nor the keys of free-form objects such as `metrics` and `labels`)."""
    known = _field_names(model or BaseModel) | {"[key]"}
    problems = [f"{_location(error['loc'], known) or 'event'}: {error['msg']}" for error in exc.errors()]
    shown = "; ".join(problems[:10])
    return shown + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")


def _check_size(event: Mapping[str, Any]) -> None:
    try:
        inputs.check_depth(event)  # before json.dumps and pydantic recurse into it
    except inputs.TooDeepError as exc:
        raise InvalidEventError(f"event is {exc}") from None
    try:
        size = len(json.dumps(event, separators=(",", ":"), allow_nan=True).encode("utf-8"))
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise InvalidEventError("event is not JSON") from exc
    if size > MAX_EVENT_BYTES:
        raise InvalidEventError(f"event is {size} bytes, above the {MAX_EVENT_BYTES} that EventBridge and SNS carry")


def parse_trading_event(event: Mapping[str, Any], *, now: datetime | None = None) -> TradingDetail:
    """The validated detail of an EventBridge event of the trading engine; InvalidEventError otherwise
    (also for a time more than MAX_CLOCK_SKEW after `now`, by default the current time)."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event is not a JSON object")
    _check_size(event)
    try:
        envelope = EventBridgeEnvelope.model_validate(event)
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
        _check_storable(detail.model_dump(), f"invalid {envelope.detail_type}")
    _check_not_ahead(detail.model_dump(), f"invalid {envelope.detail_type}", _latest_allowed(now))
    return detail


def parse_alert_messages(event: Mapping[str, Any], *, now: datetime | None = None) -> list[AlertEvent]:
    """The validated alert messages of an SNS event (every record, or InvalidEventError for the lot);
    a message timed more than MAX_CLOCK_SKEW after `now` (by default the current time) is invalid."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event is not a JSON object")
    _check_size(event)
    try:
        envelope = SnsEnvelope.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(f"not an SNS event: {reason(exc, SnsEnvelope)}") from None
    latest = _latest_allowed(now)
    messages = []
    for number, record in enumerate(envelope.Records):
        try:
            body = inputs.loads(record.Sns.Message)
        except inputs.TooDeepError as exc:
            raise InvalidEventError(f"record {number}: the message is {exc}") from None
        except ValueError:
            raise InvalidEventError(f"record {number}: the message is not JSON") from None
        if not isinstance(body, dict):
            raise InvalidEventError(f"record {number}: the message is not a JSON object")
        try:
            message = AlertEvent.model_validate(body)
        except ValidationError as exc:
            raise InvalidEventError(f"record {number}: invalid alert message: {reason(exc, AlertEvent)}") from None
        _check_storable(message.model_dump(), f"record {number}: invalid alert message")
        _check_not_ahead(message.model_dump(), f"record {number}: invalid alert message", latest)
        messages.append(message)
    return messages


def _unstorable(value: Any) -> bool:
    """True for a number that DynamoDB cannot store (magnitude, precision) or that is not finite."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return True
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        return True
    if number.is_zero():
        return False
    digits = len("".join(map(str, number.as_tuple().digits)).strip("0"))  # normalize() would round to 28
    return digits > _MAX_DIGITS or not Decimal("1e-130") <= abs(number) <= Decimal("1e125")


def _check_storable(values: Any, context: str, path: str = "") -> None:
    """InvalidEventError (naming the field) for a number of a validated event that storage would refuse:
    otherwise the write fails as a storage error on every retry instead of saying why."""
    if isinstance(values, Mapping):
        for name, value in values.items():
            _check_storable(value, context, f"{path}.{name}" if path else str(name))
    elif isinstance(values, list | tuple):
        for index, value in enumerate(values):
            _check_storable(value, context, f"{path}.{index}")
    elif _unstorable(values):
        raise InvalidEventError(f"{context}: {path}: number cannot be stored (|value| from 1e-130 to 1e125, 38 digits)")


def _latest_allowed(now: datetime | None) -> datetime:
    return (to_utc(now) if now is not None else utcnow()) + MAX_CLOCK_SKEW


def _check_not_ahead(values: Any, context: str, latest: datetime, path: str = "") -> None:
    """InvalidEventError (naming the field) for a time of a validated event after `latest`."""
    if isinstance(values, Mapping):
        for name, value in values.items():
            _check_not_ahead(value, context, latest, f"{path}.{name}" if path else str(name))
    elif isinstance(values, list | tuple):
        for index, value in enumerate(values):
            _check_not_ahead(value, context, latest, f"{path}.{index}")
    elif isinstance(values, datetime) and values > latest:
        seconds = int(MAX_CLOCK_SKEW.total_seconds())
        raise InvalidEventError(f"{context}: {path}: time is more than {seconds} s in the future")
