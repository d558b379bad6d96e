"""Alerts function: alerts (read, acknowledge, resolve) and alert rules (DESIGN section 4, Alerts)."""

from __future__ import annotations

from alphapulse.web import startup  # first: no garbage collection during init, and FastAPI imported lean

# isort: split
from datetime import datetime
from typing import Annotated

from fastapi import Body, Depends, Path, Query, Response

from alphapulse.alerts.logic import lifecycle, rules
from alphapulse.alerts.models import (
    ID_MAX_LENGTH,
    ID_PATTERN,
    Alert,
    AlertFilters,
    AlertNote,
    AlertRule,
    AlertRuleInput,
    AlertStatus,
    Severity,
)
from alphapulse.alerts.wiring import AlertsDependencies, dependencies
from alphapulse.auth.models import Principal
from alphapulse.core.observability import get_logger
from alphapulse.core.pagination import Page
from alphapulse.web.app import MALFORMED_BODY, api_router, auth_responses, create_app, lambda_handler
from alphapulse.web.audit import Trail
from alphapulse.web.cache import CACHED_RESPONSES, Cached
from alphapulse.web.params import IN_UTC, Cursor, Limit, checked_range
from alphapulse.web.security import require

router = api_router("/alerts", tags=["alerts"])

Deps = Annotated[AlertsDependencies, Depends(dependencies.dependency)]
Viewer = Annotated[Principal, require("view_alerts")]
Responder = Annotated[Principal, require("acknowledge_alerts")]
RuleAdmin = Annotated[Principal, require("manage_alert_rules")]
AlertIdPath = Annotated[str, Path(max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description="The alert's id")]
RuleIdPath = Annotated[str, Path(max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description="The rule's id")]
NoteBody = Annotated[AlertNote | None, Body(description="Optional note, at most 1000 characters")]

_AUTH = auth_responses()
_LIST = {**_AUTH, 400: {"description": "Malformed cursor, or one from another tenant or query"}}
_ALERT = {**_AUTH, 404: {"description": "No such alert"}}
_RULE = {**_AUTH, 404: {"description": "No such rule"}}


def push_update(deps: AlertsDependencies, tenant_id: str, alert: Alert) -> None:
    """Push an operator's change on the `alerts` channel, through the push queue as every push goes (numbered,
    logged, retried, never skipped). The change is already stored, so a queue that stays unreachable after the
    SDK's retries is logged as an error rather than turned into one (dashboards catch up on their next read)."""
    changed = alert.resolved_at or alert.acknowledged_at
    push_id = f"alert_update:{alert.alert_id}:{alert.status}:{changed.isoformat() if changed else ''}"
    try:
        deps.publish(tenant_id, "alerts", "alert_update", alert.model_dump(mode="json"), push_id=push_id)
    except Exception:
        get_logger().exception("alert_update push failed", extra={"tenant_id": tenant_id, "alert_id": alert.alert_id})


async def alert_filters(
    start_time: Annotated[datetime | None, IN_UTC, Query(description="Created at or after (ISO 8601)")] = None,
    end_time: Annotated[datetime | None, IN_UTC, Query(description="Created at or before (ISO 8601)")] = None,
    severity: Annotated[Severity | None, Query()] = None,
    status: Annotated[AlertStatus | None, Query()] = None,
    source: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> AlertFilters:
    window = checked_range(start_time, end_time)
    return AlertFilters(start_time=window.start, end_time=window.end, severity=severity, status=status, source=source)


# The rule routes come first: `/alerts/rules` must never be read as an alert called "rules".


@router.get("/rules", response_model=Page[AlertRule], operation_id="list_alert_rules",
            responses={**_LIST, **CACHED_RESPONSES})  # fmt: skip
async def list_rules(
    principal: Viewer, deps: Deps, cache: Cached, cursor: Cursor = None, limit: Limit = 100
) -> Response:
    return await cache.respond(
        principal, ("rules",), lambda: rules.list_rules(deps.rules, principal.tenant_id, limit=limit, cursor=cursor)
    )


@router.post(
    "/rules",
    status_code=201,
    response_model=AlertRule,
    operation_id="create_alert_rule",
    responses={**_AUTH, **MALFORMED_BODY},
)
async def create_rule(principal: RuleAdmin, deps: Deps, trail: Trail, rule: AlertRuleInput) -> AlertRule:
    created = rules.create_rule(deps.rules, principal.tenant_id, rule)
    deps.changed(principal.tenant_id, "rules")
    trail.record(principal.tenant_id, principal.username, "rule.create", target=created.rule_id)
    return created


@router.put(
    "/rules/{rule_id}",
    response_model=AlertRule,
    operation_id="replace_alert_rule",
    responses={**_RULE, **MALFORMED_BODY},
)
async def replace_rule(
    principal: RuleAdmin, deps: Deps, trail: Trail, rule_id: RuleIdPath, rule: AlertRuleInput
) -> AlertRule:
    replaced = rules.replace_rule(deps.rules, principal.tenant_id, rule_id, rule)
    deps.changed(principal.tenant_id, "rules")
    trail.record(principal.tenant_id, principal.username, "rule.replace", target=rule_id)
    return replaced


@router.delete(
    "/rules/{rule_id}", status_code=204, response_class=Response, operation_id="delete_alert_rule", responses=_RULE
)
async def delete_rule(principal: RuleAdmin, deps: Deps, trail: Trail, rule_id: RuleIdPath) -> Response:
    rules.delete_rule(deps.rules, principal.tenant_id, rule_id)
    deps.changed(principal.tenant_id, "rules")
    trail.record(principal.tenant_id, principal.username, "rule.delete", target=rule_id)
    return Response(status_code=204)


@router.get("", response_model=Page[Alert], operation_id="list_alerts", responses={**_LIST, **CACHED_RESPONSES})
async def list_alerts(
    principal: Viewer,
    deps: Deps,
    cache: Cached,
    filters: Annotated[AlertFilters, Depends(alert_filters)],
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    return await cache.respond(
        principal,
        ("alerts",),
        lambda: lifecycle.list_alerts(deps.alerts, principal.tenant_id, filters, limit=limit, cursor=cursor),
    )


@router.get("/{alert_id}", response_model=Alert, operation_id="get_alert", responses={**_ALERT, **CACHED_RESPONSES})
async def get_alert(principal: Viewer, deps: Deps, cache: Cached, alert_id: AlertIdPath) -> Response:
    return await cache.respond(
        principal, ("alerts",), lambda: lifecycle.get_alert(deps.alerts, principal.tenant_id, alert_id)
    )


@router.post(
    "/{alert_id}/acknowledge",
    response_model=Alert,
    operation_id="acknowledge_alert",
    responses={**_ALERT, **MALFORMED_BODY, 409: {"description": "Already acknowledged or resolved"}},
)
async def acknowledge(
    principal: Responder, deps: Deps, trail: Trail, alert_id: AlertIdPath, body: NoteBody = None
) -> Alert:
    note = body.note if body else None
    alert = lifecycle.acknowledge_alert(
        deps.alerts, principal.tenant_id, alert_id, username=principal.username, note=note
    )
    deps.changed(principal.tenant_id, "alerts")
    trail.record(principal.tenant_id, principal.username, "alert.acknowledge", target=alert_id)
    push_update(deps, principal.tenant_id, alert)
    return alert


@router.post(
    "/{alert_id}/resolve",
    response_model=Alert,
    operation_id="resolve_alert",
    responses={**_ALERT, **MALFORMED_BODY, 409: {"description": "Already resolved"}},
)
async def resolve(
    principal: Responder, deps: Deps, trail: Trail, alert_id: AlertIdPath, body: NoteBody = None
) -> Alert:
    note = body.note if body else None
    alert = lifecycle.resolve_alert(deps.alerts, principal.tenant_id, alert_id, username=principal.username, note=note)
    deps.changed(principal.tenant_id, "alerts")
    trail.record(principal.tenant_id, principal.username, "alert.resolve", target=alert_id)
    push_update(deps, principal.tenant_id, alert)
    return alert


app = create_app("AlphaPulse alerts", routers=[router])
handler = lambda_handler(app)
startup.done()
