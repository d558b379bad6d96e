"""Alert logic: reading, acknowledging and resolving alerts, the firing lifecycle, and alert rules.

Repositories come in as parameters (Protocols), so the rules can be tested with in-memory fakes.

The lifecycle is PagerDuty-like (DESIGN section 4):
- a firing event whose `dedup_key` has an active (firing or acknowledged) alert bumps its
  `count` and `last_seen`; otherwise it creates a new alert;
- a resolved event resolves the active alert of its `dedup_key` (or its `alert_id`);
- acknowledge and resolve are conditional writes, so racing operators get one winner and a 409.

Idempotency (delivery is at least once): an event is identified by its `dedup_key` and its
`timestamp`. Each alert remembers the newest event applied to it (`last_event_at`), and events
not newer than that are ignored, so a redelivered event neither bumps nor creates. When an alert
resolves, the dedup key keeps that mark as its watermark (the `LAST` item next to `ACTIVE`), so a
redelivery, or a firing event that was overtaken by its own resolution, does not open a new
alert either: only a firing event newer than the watermark does. Events without a `dedup_key`
and without an `alert_id` get an id derived from their content, so a redelivered one finds the
alert it already created. The price: an event that arrives after a newer event of the same key is
treated as a duplicate (it is not counted).
"""

from __future__ import annotations

import hashlib
import json
import math
import operator as op
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from alphapulse.errors import BadRequestError, ConflictError, DataAccessError, NotFoundError
from alphapulse.models.alerts import (
    Alert,
    AlertEvent,
    AlertRecord,
    AlertRule,
    AlertRuleInput,
    AlertStatus,
    Operator,
    Severity,
    parse_condition,
)
from alphapulse.models.common import Page
from alphapulse.observability import get_logger
from alphapulse.pagination import decode_cursor, encode_cursor, fingerprint
from alphapulse.timeutil import iso, to_utc, utcnow

ACTIVE_STATUSES: tuple[AlertStatus, ...] = ("firing", "acknowledged")
MAX_ATTEMPTS = 5
"""Optimistic retries when a concurrent write changed an alert between our read and our write."""

CreateOutcome = Literal["created", "id_taken", "dedup_taken", "stale", "retry"]
FireAction = Literal["created", "bumped", "resolved", "ignored"]

_OPERATORS: dict[Operator, Callable[[float, float], bool]] = {
    "<": op.lt,
    "<=": op.le,
    ">": op.gt,
    ">=": op.ge,
    "==": op.eq,
    "!=": op.ne,
}


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


class AlertStore(Protocol):
    def get(self, tenant_id: str, alert_id: str) -> AlertRecord | None: ...
    def query(
        self, tenant_id: str, filters: AlertFilters, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[AlertRecord], dict[str, Any] | None]: ...
    def dedup_state(self, tenant_id: str, dedup_key: str) -> DedupState: ...
    def create(self, tenant_id: str, alert: AlertRecord) -> CreateOutcome: ...
    def bump(
        self, tenant_id: str, alert_id: str, *, event_at: datetime, metric_value: float | None
    ) -> AlertRecord | None: ...
    def acknowledge(
        self, tenant_id: str, alert_id: str, *, by: str, at: datetime, note: str | None
    ) -> AlertRecord | None: ...
    def resolve(
        self, tenant_id: str, alert: AlertRecord, *, by: str, at: datetime, note: str | None, last_event_at: str
    ) -> AlertRecord | None: ...
    def settle(self, tenant_id: str, dedup_key: str, *, watermark: str) -> None: ...


class RuleStore(Protocol):
    def is_seeded(self, tenant_id: str) -> bool: ...
    def seed(self, tenant_id: str, rules: list[AlertRule]) -> bool: ...
    def query(
        self, tenant_id: str, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[AlertRule], dict[str, Any] | None]: ...
    def get(self, tenant_id: str, rule_id: str) -> AlertRule | None: ...
    def create(self, tenant_id: str, rule: AlertRule) -> None: ...
    def replace(self, tenant_id: str, rule: AlertRule) -> bool: ...
    def delete(self, tenant_id: str, rule_id: str) -> bool: ...


# --- conditions and messages (shared with the rules engine) -------------------------------------


def evaluate(condition: str, value: float) -> bool:
    """True when `value` meets `condition` (`"> 0.1"`); a NaN or infinite value never does.

    ValueError for an invalid condition (stored rules are validated, so this means a bug).
    """
    operator, threshold = parse_condition(condition)
    if not math.isfinite(value):
        return False
    return _OPERATORS[operator](float(value), threshold)


def render_message(rule: AlertRule, value: float) -> str:
    """The rule's message_template filled in for `value` (templates are validated on write)."""
    _, threshold = parse_condition(rule.condition)
    return rule.message_template.format(
        value=value, threshold=threshold, metric_name=rule.metric_name, condition=rule.condition
    )


# --- reading -------------------------------------------------------------------------------------


def list_alerts(
    store: AlertStore, tenant_id: str, filters: AlertFilters, *, limit: int, cursor: str | None
) -> Page[Alert]:
    """A page of the tenant's alerts, newest first; the cursor is bound to tenant and filters."""
    query = filters.fingerprint()
    start_key = _start_key(cursor, tenant_id=tenant_id, query=query)
    records, next_key = store.query(tenant_id, filters, limit=limit, start_key=start_key)
    next_cursor = encode_cursor(next_key, tenant_id=tenant_id, query=query) if next_key else None
    return Page[Alert](items=[record.public() for record in records], next_cursor=next_cursor)


def _start_key(cursor: str | None, *, tenant_id: str, query: str) -> dict[str, Any] | None:
    if cursor is None:
        return None
    if not cursor.isascii():
        # pagination.decode_cursor's compare_digest raises TypeError on non-ASCII text.
        raise BadRequestError("Invalid cursor")
    return decode_cursor(cursor, tenant_id=tenant_id, query=query)


def get_alert(store: AlertStore, tenant_id: str, alert_id: str) -> Alert:
    """One alert of the tenant, or NotFoundError."""
    return _existing(store, tenant_id, alert_id).public()


def _existing(store: AlertStore, tenant_id: str, alert_id: str) -> AlertRecord:
    record = store.get(tenant_id, alert_id)
    if record is None:
        raise NotFoundError("Alert not found")
    return record


# --- operator actions ----------------------------------------------------------------------------


def acknowledge_alert(
    store: AlertStore, tenant_id: str, alert_id: str, *, username: str, note: str | None, now: datetime | None = None
) -> Alert:
    """Acknowledge a firing alert. 404 when unknown, 409 when already acknowledged or resolved."""
    updated = store.acknowledge(tenant_id, alert_id, by=username, at=to_utc(now or utcnow()), note=note)
    if updated is not None:
        get_logger().info("alert acknowledged", extra={"tenant_id": tenant_id, "alert_id": alert_id})
        return updated.public()
    current = _existing(store, tenant_id, alert_id)
    raise ConflictError(f"Alert is already {current.status}")


def resolve_alert(
    store: AlertStore, tenant_id: str, alert_id: str, *, username: str, note: str | None, now: datetime | None = None
) -> Alert:
    """Resolve a firing or acknowledged alert. 404 when unknown, 409 when already resolved.

    The next firing event of its dedup key opens a new alert.
    """
    for _ in range(MAX_ATTEMPTS):
        current = _existing(store, tenant_id, alert_id)
        if current.status == "resolved":
            raise ConflictError("Alert is already resolved")
        resolved = store.resolve(
            tenant_id,
            current,
            by=username,
            at=to_utc(now or utcnow()),
            note=note,
            last_event_at=current.last_event_at,
        )
        if resolved is not None:
            get_logger().info("alert resolved", extra={"tenant_id": tenant_id, "alert_id": alert_id})
            return resolved.public()
    raise DataAccessError("the alert kept changing; try again")


# --- the write side that alert ingestion calls ---------------------------------------------------


def fire(store: AlertStore, event: AlertEvent, *, now: datetime | None = None) -> FireResult:
    """Apply one alert event (DESIGN section 6) to its tenant's alerts; idempotent (see the module doc)."""
    if event.status == "resolved":
        return _resolve_from_event(store, event)
    tenant_id = event.tenant_id
    event_at = iso(event.timestamp)
    # An event without dedup_key or alert_id is its own alert: its id comes from its content.
    own_id = event.alert_id or (None if event.dedup_key else _content_id(event))
    for _ in range(MAX_ATTEMPTS):
        active: AlertRecord | None = None
        if event.dedup_key is not None:
            state = store.dedup_state(tenant_id, event.dedup_key)
            if state.active_alert_id is not None:
                active = store.get(tenant_id, state.active_alert_id)
            elif state.watermark is not None and event_at <= state.watermark:
                return _ignored(event, "settled by an earlier resolution", None)
        if active is None and own_id is not None:
            existing = store.get(tenant_id, own_id)
            if existing is not None and existing.status == "resolved":
                return _ignored(event, "its alert is resolved", existing)
            active = existing
        if active is not None:
            if event_at <= active.last_event_at:
                return _ignored(event, "not newer than the alert's last event", active)
            bumped = store.bump(tenant_id, active.alert_id, event_at=event.timestamp, metric_value=event.metric_value)
            if bumped is not None:
                return FireResult("bumped", bumped.public())
            continue  # resolved, or a newer event got there first: look again
        alert = _new_alert(event, own_id or uuid.uuid4().hex, now=to_utc(now or utcnow()))
        outcome = store.create(tenant_id, alert)
        if outcome == "created":
            get_logger().info("alert created", extra={"tenant_id": tenant_id, "alert_id": alert.alert_id})
            return FireResult("created", alert.public())
        if outcome == "stale":
            return _ignored(event, "settled by an earlier resolution", None)
        # id_taken / dedup_taken / retry: another delivery or event won the race; it is now a bump.
    raise DataAccessError("alert state kept changing while applying an event")


def _resolve_from_event(store: AlertStore, event: AlertEvent) -> FireResult:
    tenant_id = event.tenant_id
    event_at = iso(event.timestamp)
    for _ in range(MAX_ATTEMPTS):
        target: AlertRecord | None = None
        if event.dedup_key is not None:
            state = store.dedup_state(tenant_id, event.dedup_key)
            if state.active_alert_id is not None:
                target = store.get(tenant_id, state.active_alert_id)
        if target is None and event.alert_id is not None:
            target = store.get(tenant_id, event.alert_id)
        if target is None or target.status == "resolved":
            if event.dedup_key is not None:
                # Remember it: a firing event this resolution overtook must not open an alert.
                store.settle(tenant_id, event.dedup_key, watermark=event_at)
            return _ignored(event, "no active alert", target)
        if event_at <= target.last_event_at:
            return _ignored(event, "not newer than the alert's last event", target)
        resolved = store.resolve(
            tenant_id, target, by=event.source, at=event.timestamp, note=None, last_event_at=event_at
        )
        if resolved is not None:
            return FireResult("resolved", resolved.public())
    raise DataAccessError("alert state kept changing while applying an event")


def _ignored(event: AlertEvent, reason: str, alert: AlertRecord | None) -> FireResult:
    get_logger().info(
        "alert event ignored",
        extra={"tenant_id": event.tenant_id, "reason": reason, "alert_id": alert.alert_id if alert else None},
    )
    return FireResult("ignored", alert.public() if alert else None)


def _content_id(event: AlertEvent) -> str:
    canonical = json.dumps(event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _new_alert(event: AlertEvent, alert_id: str, *, now: datetime) -> AlertRecord:
    return AlertRecord(
        alert_id=alert_id,
        title=event.title or event.message[:256],
        message=event.message,
        severity=event.severity,
        source=event.source,
        rule_id=event.rule_id,
        metric_name=event.metric_name,
        metric_value=event.metric_value,
        labels=event.labels,
        dedup_key=event.dedup_key,
        status="firing",
        count=1,
        first_seen=event.timestamp,
        last_seen=event.timestamp,
        created_at=now,
        last_event_at=iso(event.timestamp),
    )


# --- rules ---------------------------------------------------------------------------------------

RULES_QUERY = fingerprint(list="alert_rules")

_DEFAULT_RULES: tuple[tuple[str, str, str, str, str, Severity, int, str], ...] = (
    # rule_id, name, description, metric_name, condition, severity, cooldown, message_template
    (
        "sharpe_ratio_low",
        "Low Sharpe ratio",
        "The portfolio's Sharpe ratio fell below 0.5.",
        "sharpe_ratio",
        "< 0.5",
        "warning",
        3600,
        "Sharpe ratio is {value:.2f}, below {threshold:g}",
    ),
    (
        "drawdown_high",
        "High drawdown",
        "The maximum drawdown exceeds 10%.",
        "max_drawdown",
        "> 0.1",
        "error",
        1800,
        "Max drawdown is {value:.2%}, above {threshold:.0%}",
    ),
    (
        "portfolio_leverage",
        "High leverage",
        "Portfolio leverage exceeds 1.5x.",
        "leverage",
        "> 1.5",
        "error",
        1800,
        "Leverage is {value:.2f}x, above {threshold:g}x",
    ),
    (
        "var_high",
        "High value at risk",
        "The 95% value at risk exceeds 5%.",
        "var_95",
        "> 0.05",
        "warning",
        3600,
        "VaR (95%) is {value:.2%}, above {threshold:.0%}",
    ),
    (
        "high_slippage",
        "High slippage",
        "Average execution slippage exceeds 0.2%.",
        "avg_slippage",
        "> 0.002",
        "warning",
        3600,
        "Average slippage is {value:.3%}, above {threshold:.1%}",
    ),
    (
        "low_fill_rate",
        "Low fill rate",
        "Less than 95% of orders are filled.",
        "fill_rate",
        "< 0.95",
        "warning",
        3600,
        "Fill rate is {value:.1%}, below {threshold:.0%}",
    ),
    (
        "high_memory_usage",
        "High memory usage",
        "The trading system uses more than 85% of its memory.",
        "memory_usage_percent",
        "> 85",
        "warning",
        1800,
        "Memory usage is {value:.1f}%, above {threshold:g}%",
    ),
    (
        "high_cpu_usage",
        "High CPU usage",
        "The trading system uses more than 90% CPU.",
        "cpu_usage_percent",
        "> 90",
        "warning",
        1800,
        "CPU usage is {value:.1f}%, above {threshold:g}%",
    ),
    (
        "high_api_latency",
        "High API latency",
        "The API's 95th-percentile latency exceeds 1000 ms.",
        "api_p95_latency",
        "> 1000",
        "warning",
        1800,
        "API p95 latency is {value:.0f} ms, above {threshold:g} ms",
    ),
    (
        "high_api_error_rate",
        "High API error rate",
        "More than 5% of API requests fail.",
        "api_error_rate",
        "> 0.05",
        "error",
        1800,
        "API error rate is {value:.1%}, above {threshold:.0%}",
    ),
)


def default_rules() -> list[AlertRule]:
    """The rules a new tenant starts with (DESIGN section 4)."""
    return [
        AlertRule(
            rule_id=rule_id,
            name=name,
            description=description,
            metric_name=metric,
            condition=condition,
            severity=severity,
            cooldown_seconds=cooldown,
            message_template=template,
            enabled=True,
        )
        for rule_id, name, description, metric, condition, severity, cooldown, template in _DEFAULT_RULES
    ]


def ensure_default_rules(store: RuleStore, tenant_id: str) -> None:
    """Give a tenant the default rules once; a tenant that deleted them does not get them back."""
    if not store.is_seeded(tenant_id):
        store.seed(tenant_id, default_rules())


def list_rules(store: RuleStore, tenant_id: str, *, limit: int, cursor: str | None) -> Page[AlertRule]:
    """A page of the tenant's rules, by rule_id; the first read of a new tenant seeds the defaults."""
    start_key = _start_key(cursor, tenant_id=tenant_id, query=RULES_QUERY)
    rules, next_key = store.query(tenant_id, limit=limit, start_key=start_key)
    if not rules and start_key is None and not store.is_seeded(tenant_id):
        store.seed(tenant_id, default_rules())
        rules, next_key = store.query(tenant_id, limit=limit, start_key=None)
    next_cursor = encode_cursor(next_key, tenant_id=tenant_id, query=RULES_QUERY) if next_key else None
    return Page[AlertRule](items=rules, next_cursor=next_cursor)


def tenant_rules(store: RuleStore, tenant_id: str) -> list[AlertRule]:
    """Every rule of a tenant (for the rules engine), seeding the defaults for a new tenant."""
    ensure_default_rules(store, tenant_id)
    rules: list[AlertRule] = []
    start_key: dict[str, Any] | None = None
    while True:
        page, start_key = store.query(tenant_id, limit=500, start_key=start_key)
        rules.extend(page)
        if start_key is None:
            return rules


def create_rule(store: RuleStore, tenant_id: str, rule: AlertRuleInput) -> AlertRule:
    """Store a new rule under a server-generated id."""
    ensure_default_rules(store, tenant_id)
    created = AlertRule(rule_id=uuid.uuid4().hex, **rule.model_dump())
    store.create(tenant_id, created)
    get_logger().info("alert rule created", extra={"tenant_id": tenant_id, "rule_id": created.rule_id})
    return created


def replace_rule(store: RuleStore, tenant_id: str, rule_id: str, rule: AlertRuleInput) -> AlertRule:
    """Replace an existing rule; NotFoundError when there is none."""
    ensure_default_rules(store, tenant_id)
    replaced = AlertRule(rule_id=rule_id, **rule.model_dump())
    if not store.replace(tenant_id, replaced):
        raise NotFoundError("Alert rule not found")
    get_logger().info("alert rule replaced", extra={"tenant_id": tenant_id, "rule_id": rule_id})
    return replaced


def delete_rule(store: RuleStore, tenant_id: str, rule_id: str) -> None:
    """Delete a rule; NotFoundError when there is none."""
    ensure_default_rules(store, tenant_id)
    if not store.delete(tenant_id, rule_id):
        raise NotFoundError("Alert rule not found")
    get_logger().info("alert rule deleted", extra={"tenant_id": tenant_id, "rule_id": rule_id})
