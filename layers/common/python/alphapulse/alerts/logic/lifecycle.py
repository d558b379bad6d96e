"""Alert logic: reading, acknowledging and resolving alerts, and the firing lifecycle (alert rules: `rules`).

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
treated as a duplicate (it is not counted). A watermark is never later than the moment its resolution
arrived, so a producer clock running ahead cannot hold back later firing events.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any, Protocol

from alphapulse.alerts.models import (
    Alert,
    AlertEvent,
    AlertFilters,
    AlertRecord,
    CreateOutcome,
    DedupState,
    FireResult,
)
from alphapulse.core.errors import ConflictError, DataAccessError, NotFoundError
from alphapulse.core.observability import get_logger
from alphapulse.core.pagination import Page, decode_cursor, encode_cursor
from alphapulse.core.storage import MAX_ATTEMPTS
from alphapulse.core.times import iso, to_utc, utcnow


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


# --- reading -------------------------------------------------------------------------------------


def list_alerts(
    store: AlertStore, tenant_id: str, filters: AlertFilters, *, limit: int, cursor: str | None
) -> Page[Alert]:
    """A page of the tenant's alerts, newest first; the cursor is bound to tenant and filters."""
    query = filters.fingerprint()
    start_key = decode_cursor(cursor, tenant_id=tenant_id, query=query) if cursor is not None else None
    records, next_key = store.query(tenant_id, filters, limit=limit, start_key=start_key)
    next_cursor = encode_cursor(next_key, tenant_id=tenant_id, query=query) if next_key else None
    return Page[Alert](items=[record.public() for record in records], next_cursor=next_cursor)


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
        return _resolve_from_event(store, event, now=to_utc(now or utcnow()))
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


def _resolve_from_event(store: AlertStore, event: AlertEvent, *, now: datetime) -> FireResult:
    tenant_id = event.tenant_id
    event_at = iso(event.timestamp)
    # The watermark a resolution leaves never passes the moment it arrived: a producer whose clock runs
    # ahead must not silence the firing events that other producers stamp after it.
    settled_at = min(event_at, iso(now))
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
                store.settle(tenant_id, event.dedup_key, watermark=settled_at)
            return _ignored(event, "no active alert", target)
        if event_at <= target.last_event_at:
            return _ignored(event, "not newer than the alert's last event", target)
        resolved = store.resolve(
            tenant_id, target, by=event.source, at=event.timestamp, note=None, last_event_at=settled_at
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
