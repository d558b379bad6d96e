"""Alerts and alert rules (DESIGN section 4, Alerts) and the SNS alert message (section 6)."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from alphapulse.core.claims import Claim
from alphapulse.core.inputs import Labels, Model, Text
from alphapulse.core.keys import DEFAULT_TENANT, METRIC_NAME_PATTERN, valid_tenant_id
from alphapulse.core.pagination import fingerprint
from alphapulse.core.times import UtcDatetime, iso, to_utc

Severity = Literal["info", "warning", "error", "critical"]
AlertStatus = Literal["firing", "acknowledged", "resolved"]
EventStatus = Literal["firing", "resolved"]
Operator = Literal["<", "<=", ">", ">=", "==", "!="]

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
"""Alert and rule ids: no '#', so an id can never reach into another key space."""
ID_MAX_LENGTH = 128
RULES_SEGMENT = "rules"
"""`/alerts/rules` is the rules collection, so no alert may be called `rules`."""
MESSAGE_MAX_LENGTH = 4096
NOTE_MAX_LENGTH = 1000
MAX_COOLDOWN_SECONDS = 30 * 86400
TEMPLATE_FIELDS = frozenset({"value", "threshold", "metric_name", "condition"})
"""The placeholders a rule's message_template may use; `{value}` is required."""

_CONDITION = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*$", re.ASCII)
_WIDE_FORMAT = re.compile(r"\d{3,}")


def _not_rules(alert_id: str | None) -> str | None:
    if alert_id == RULES_SEGMENT:
        raise ValueError("'rules' is not a valid alert id")
    return alert_id


def _any_time_as_utc(value: Any) -> Any:
    # Producers outside our control may omit the offset; a naive time is taken as UTC.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return value  # not ISO 8601: pydantic's own parsing reports it
    return _in_utc(value) if isinstance(value, datetime) else value


def _in_utc(moment: datetime) -> datetime:
    try:
        return to_utc(moment)
    except (ValueError, OverflowError) as exc:  # 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise ValueError("time out of range") from exc


def _scalar_labels(value: Any) -> Any:
    # Label values are strings; numbers and booleans from other alerting systems are kept as text.
    if isinstance(value, dict):
        return {
            key: (str(v).lower() if isinstance(v, bool) else str(v)) if isinstance(v, int | float | bool) else v
            for key, v in value.items()
        }
    return value


AlertId = Annotated[str, Field(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH), AfterValidator(_not_rules)]
RuleId = Annotated[str, Field(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]
RuleMetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]
"""A metric a rule evaluates: one that MetricsReported can carry."""
EventMetricName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:/-]{1,128}$")]
"""An external alerting system's metric name, shown on its alert ('/' allowed)."""
EventTime = Annotated[datetime, BeforeValidator(_any_time_as_utc), AfterValidator(_in_utc)]


def parse_condition(condition: str) -> tuple[Operator, float]:
    """`"> 0.1"` as `(">", 0.1)`; ValueError for anything that is not an operator and a finite number."""
    match = _CONDITION.match(condition) if len(condition) <= 64 else None
    if match is None:
        raise ValueError("condition must be an operator (<, <=, >, >=, ==, !=) followed by a number, e.g. '> 0.1'")
    threshold = float(match.group(2))
    if not math.isfinite(threshold):
        raise ValueError("the condition's number must be finite")
    operator: Operator = match.group(1)  # type: ignore[assignment]  # the pattern admits only these
    return operator, threshold


def normalise_condition(condition: str) -> str:
    """A valid condition written as `<operator> <number>` (one space, no padding)."""
    parse_condition(condition)
    match = _CONDITION.match(condition)
    assert match is not None
    return f"{match.group(1)} {match.group(2)}"


def check_message_template(template: str) -> str:
    """The template, if it uses `{value}`, only known placeholders, and formats; ValueError otherwise."""
    fields: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"message_template is not a valid format string: {exc}") from exc
    for _, name, spec, _ in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS:
            raise ValueError(f"message_template may only use the placeholders {sorted(TEMPLATE_FIELDS)}")
        if spec and ("{" in spec or _WIDE_FORMAT.search(spec)):
            raise ValueError("message_template has an unsupported format specification")
        fields.append(name)
    if "value" not in fields:
        raise ValueError("message_template must contain {value}")
    try:
        template.format(value=0.5, threshold=0.1, metric_name="metric", condition="> 0.1")
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"message_template cannot be formatted with a numeric value: {exc}") from exc
    return template


class Alert(Model):
    """An alert as the API shows it."""

    alert_id: str
    title: str
    message: str
    severity: Severity
    source: str
    rule_id: str | None = None
    metric_name: str | None = None
    metric_value: float | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    dedup_key: str | None = None
    status: AlertStatus
    count: int = 1
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    created_at: UtcDatetime
    acknowledged: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: UtcDatetime | None = None
    ack_note: str | None = None
    resolved_at: UtcDatetime | None = None
    resolved_by: str | None = None
    resolve_note: str | None = None


class AlertRecord(Alert):
    """A stored alert: the public fields plus the bookkeeping of the lifecycle.

    `last_event_at` is the timestamp (ISO, fixed width) of the newest event applied to the alert;
    events not newer than it are duplicates or arrived out of order, and are ignored.
    """

    last_event_at: str

    def public(self) -> Alert:
        """The alert without its bookkeeping."""
        return Alert.model_validate(self.model_dump(exclude={"last_event_at"}))


class AlertNote(Model):
    """Optional body of acknowledge and resolve."""

    model_config = ConfigDict(extra="forbid")

    note: Annotated[Text, Field(max_length=NOTE_MAX_LENGTH)] | None = None


class AlertEvent(Model):
    """One message of the SNS alerts topic (DESIGN section 6).

    `rule_id` is our addition: the rules engine names the rule that fired. Unknown fields are
    ignored, so external alerting systems may send more.
    """

    model_config = ConfigDict(extra="ignore")

    tenant_id: str = DEFAULT_TENANT
    alert_id: AlertId | None = None
    title: Annotated[Text, Field(min_length=1, max_length=256)] | None = None
    message: Annotated[Text, Field(min_length=1, max_length=MESSAGE_MAX_LENGTH)]
    severity: Severity
    source: Annotated[Text, Field(min_length=1, max_length=256)]
    rule_id: RuleId | None = None
    metric_name: EventMetricName | None = None
    metric_value: Annotated[float, Field(allow_inf_nan=False)] | None = None
    labels: Annotated[Labels, BeforeValidator(_scalar_labels)] = Field(default_factory=dict)
    dedup_key: Annotated[Text, Field(min_length=1, max_length=1024)] | None = None
    status: EventStatus
    timestamp: EventTime

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, tenant_id: str) -> str:
        if not valid_tenant_id(tenant_id):
            raise ValueError("tenant_id must be lower-case letters, digits and '-' (at most 63)")
        return tenant_id

    @model_validator(mode="after")
    def _resolvable(self) -> AlertEvent:
        if self.status == "resolved" and self.dedup_key is None and self.alert_id is None:
            raise ValueError("a resolved event must name the alert by dedup_key or alert_id")
        return self


class AlertRuleInput(Model):
    """A rule as clients write it (POST creates with a server-generated id, PUT replaces)."""

    name: Annotated[Text, Field(min_length=1, max_length=128)]
    description: Annotated[Text, Field(max_length=1024)] = ""
    metric_name: RuleMetricName
    condition: Annotated[str, Field(max_length=64, examples=["> 0.1"])]
    severity: Severity
    message_template: Annotated[Text, Field(min_length=1, max_length=512, examples=["Drawdown is {value:.2%}"])]
    cooldown_seconds: Annotated[int, Field(ge=0, le=MAX_COOLDOWN_SECONDS)] = 0
    enabled: bool = True

    @field_validator("condition")
    @classmethod
    def _condition(cls, condition: str) -> str:
        return normalise_condition(condition)

    @field_validator("message_template")
    @classmethod
    def _template(cls, template: str) -> str:
        return check_message_template(template)


class AlertRule(AlertRuleInput):
    """A stored rule."""

    rule_id: RuleId


# --- what the alert logic and its repositories exchange ---

ACTIVE_STATUSES: tuple[AlertStatus, ...] = ("firing", "acknowledged")
CreateOutcome = Literal["created", "id_taken", "dedup_taken", "stale", "retry"]
FireAction = Literal["created", "bumped", "resolved", "ignored"]


@dataclass(frozen=True)
class AlertFilters:
    """The filters of `GET /alerts` (times bound `created_at`, both ends inclusive)."""

    start_time: datetime | None = None
    end_time: datetime | None = None
    severity: Severity | None = None
    status: AlertStatus | None = None
    source: str | None = None

    def fingerprint(self) -> str:
        return fingerprint(
            list="alerts",
            start_time=iso(self.start_time) if self.start_time else None,
            end_time=iso(self.end_time) if self.end_time else None,
            severity=self.severity,
            status=self.status,
            source=self.source,
        )


@dataclass(frozen=True)
class DedupState:
    """What a dedup key points at: its active alert, and the newest event settled by a resolution."""

    active_alert_id: str | None = None
    watermark: str | None = None


@dataclass(frozen=True)
class FireResult:
    """What an incoming alert event did; ingestion pushes `created`/`bumped` as `alert` and
    `resolved` as `alert_update`, and nothing for `ignored` (a duplicate or stale event)."""

    action: FireAction
    alert: Alert | None


@dataclass(frozen=True)
class RuleState:
    """A rule's state: whether it fires, when it last fired and last changed (event times, ISO), and the
    message still owed with its claim, if any."""

    firing: bool
    fired_at: str | None
    changed_at: str
    pending: Claim | None = None
    pending_message: str | None = None


class MetricReport(Protocol):
    """Values reported for a tenant at one time, by metric name: what the rules engine evaluates
    (ingest's MetricsReported and SystemStatusReported are such reports)."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def timestamp(self) -> datetime: ...

    @property
    def values(self) -> Mapping[str, float]: ...

    @property
    def labels(self) -> Mapping[str, str]: ...
