"""Alerts function: alerts (read, acknowledge, resolve) and alert rules (DESIGN section 4, Alerts)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.exceptions import RequestValidationError

from alphapulse import alerts
from alphapulse.api import MALFORMED_BODY, create_app, data_repository, lambda_handler
from alphapulse.auth import require
from alphapulse.models.alerts import (
    ID_MAX_LENGTH,
    ID_PATTERN,
    Alert,
    AlertNote,
    AlertRule,
    AlertRuleInput,
    AlertStatus,
    Severity,
)
from alphapulse.models.auth import Principal
from alphapulse.models.common import Cursor, Limit, Page
from alphapulse.observability import get_logger
from alphapulse.repositories.alerts import AlertRepository, RuleRepository
from alphapulse.timeutil import to_utc

router = APIRouter(prefix="/alerts", tags=["alerts"])
MIN_YEAR = 1000  # stored times sort as text: timeutil.iso writes years below 1000 with fewer digits


Alerts = Annotated[AlertRepository, data_repository(AlertRepository)]
Rules = Annotated[RuleRepository, data_repository(RuleRepository)]
Viewer = Annotated[Principal, require("view_alerts")]
Responder = Annotated[Principal, require("acknowledge_alerts")]
RuleAdmin = Annotated[Principal, require("manage_alert_rules")]
AlertIdPath = Annotated[str, Path(max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description="The alert's id")]
RuleIdPath = Annotated[str, Path(max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description="The rule's id")]
NoteBody = Annotated[AlertNote | None, Body(description="Optional note, at most 1000 characters")]

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid or expired access token"},
    403: {"description": "The token lacks the permission"},
}
_LIST = {**_AUTH, 400: {"description": "Malformed cursor, or one from another tenant or query"}}
_ALERT = {**_AUTH, 404: {"description": "No such alert"}}
_RULE = {**_AUTH, 404: {"description": "No such rule"}}


def push_update(tenant_id: str, alert: Alert) -> None:
    """Push an operator's change on the `alerts` channel. The change is already stored and answered, so a
    failed push is logged rather than turned into an error (dashboards catch up on their next read)."""
    try:
        from alphapulse import broadcast

        broadcast.publish(tenant_id, "alerts", "alert_update", alert.model_dump(mode="json"))
    except Exception:
        get_logger().exception("alert_update push failed", extra={"tenant_id": tenant_id, "alert_id": alert.alert_id})


def _invalid(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("query", name), "msg": message}])


def _utc(name: str, moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    try:
        utc = to_utc(moment)
    except (ValueError, OverflowError) as exc:  # e.g. 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise _invalid(name, f"{name} is out of range") from exc
    if utc.year < MIN_YEAR:
        raise _invalid(name, f"{name} is out of range")
    return utc


async def alert_filters(
    start_time: Annotated[datetime | None, Query(description="Created at or after (ISO 8601)")] = None,
    end_time: Annotated[datetime | None, Query(description="Created at or before (ISO 8601)")] = None,
    severity: Annotated[Severity | None, Query()] = None,
    status: Annotated[AlertStatus | None, Query()] = None,
    source: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> alerts.AlertFilters:
    start = _utc("start_time", start_time)
    end = _utc("end_time", end_time)
    if start and end and start > end:
        raise _invalid("start_time", "start_time must not be after end_time")
    return alerts.AlertFilters(start_time=start, end_time=end, severity=severity, status=status, source=source)


# The rule routes come first: `/alerts/rules` must never be read as an alert called "rules".


@router.get("/rules", response_model=Page[AlertRule], operation_id="list_alert_rules", responses=_LIST)
async def list_rules(principal: Viewer, store: Rules, cursor: Cursor = None, limit: Limit = 100) -> Page[AlertRule]:
    return alerts.list_rules(store, principal.tenant_id, limit=limit, cursor=cursor)


@router.post(
    "/rules",
    status_code=201,
    response_model=AlertRule,
    operation_id="create_alert_rule",
    responses={**_AUTH, **MALFORMED_BODY},
)
async def create_rule(principal: RuleAdmin, store: Rules, rule: AlertRuleInput) -> AlertRule:
    return alerts.create_rule(store, principal.tenant_id, rule)


@router.put(
    "/rules/{rule_id}",
    response_model=AlertRule,
    operation_id="replace_alert_rule",
    responses={**_RULE, **MALFORMED_BODY},
)
async def replace_rule(principal: RuleAdmin, store: Rules, rule_id: RuleIdPath, rule: AlertRuleInput) -> AlertRule:
    return alerts.replace_rule(store, principal.tenant_id, rule_id, rule)


@router.delete(
    "/rules/{rule_id}", status_code=204, response_class=Response, operation_id="delete_alert_rule", responses=_RULE
)
async def delete_rule(principal: RuleAdmin, store: Rules, rule_id: RuleIdPath) -> Response:
    alerts.delete_rule(store, principal.tenant_id, rule_id)
    return Response(status_code=204)


@router.get("", response_model=Page[Alert], operation_id="list_alerts", responses=_LIST)
async def list_alerts(
    principal: Viewer,
    store: Alerts,
    filters: Annotated[alerts.AlertFilters, Depends(alert_filters)],
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Page[Alert]:
    return alerts.list_alerts(store, principal.tenant_id, filters, limit=limit, cursor=cursor)


@router.get("/{alert_id}", response_model=Alert, operation_id="get_alert", responses=_ALERT)
async def get_alert(principal: Viewer, store: Alerts, alert_id: AlertIdPath) -> Alert:
    return alerts.get_alert(store, principal.tenant_id, alert_id)


@router.post(
    "/{alert_id}/acknowledge",
    response_model=Alert,
    operation_id="acknowledge_alert",
    responses={**_ALERT, **MALFORMED_BODY, 409: {"description": "Already acknowledged or resolved"}},
)
async def acknowledge(principal: Responder, store: Alerts, alert_id: AlertIdPath, body: NoteBody = None) -> Alert:
    note = body.note if body else None
    alert = alerts.acknowledge_alert(store, principal.tenant_id, alert_id, username=principal.username, note=note)
    push_update(principal.tenant_id, alert)
    return alert


@router.post(
    "/{alert_id}/resolve",
    response_model=Alert,
    operation_id="resolve_alert",
    responses={**_ALERT, **MALFORMED_BODY, 409: {"description": "Already resolved"}},
)
async def resolve(principal: Responder, store: Alerts, alert_id: AlertIdPath, body: NoteBody = None) -> Alert:
    note = body.note if body else None
    alert = alerts.resolve_alert(store, principal.tenant_id, alert_id, username=principal.username, note=note)
    push_update(principal.tenant_id, alert)
    return alert


app = create_app("AlphaPulse alerts", routers=[router])
handler = lambda_handler(app)
