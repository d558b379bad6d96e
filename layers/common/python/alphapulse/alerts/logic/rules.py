"""Alert rules: conditions and messages (shared with the rules engine), and the rules' CRUD.

A tenant starts with the default rules (`defaults`), given once, at the first read or write of its rules:
a tenant that deleted them does not get them back.
"""

from __future__ import annotations

import math
import operator as op
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from alphapulse.alerts.logic.defaults import default_rules
from alphapulse.alerts.models import MESSAGE_MAX_LENGTH, AlertRule, AlertRuleInput, Operator, parse_condition
from alphapulse.core.errors import NotFoundError
from alphapulse.core.observability import get_logger
from alphapulse.core.pagination import Page, decode_cursor, encode_cursor, fingerprint

RULES_QUERY = fingerprint(list="alert_rules")
_OPERATORS: dict[Operator, Callable[[float, float], bool]] = {
    "<": op.lt,
    "<=": op.le,
    ">": op.gt,
    ">=": op.ge,
    "==": op.eq,
    "!=": op.ne,
}


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


def evaluate(condition: str, value: float) -> bool:
    """True when `value` meets `condition` (`"> 0.1"`); a NaN or infinite value never does.

    ValueError for an invalid condition (stored rules are validated, so this means a bug).
    """
    operator, threshold = parse_condition(condition)
    if not math.isfinite(value):
        return False
    return _OPERATORS[operator](float(value), threshold)


def render_message(rule: AlertRule, value: float) -> str:
    """The rule's message_template filled in for `value` (templates are validated on write), cut to what an
    alert message may hold: a format such as `{value:>5000}` must not make every alert of the rule invalid."""
    _, threshold = parse_condition(rule.condition)
    text = rule.message_template.format(
        value=value, threshold=threshold, metric_name=rule.metric_name, condition=rule.condition
    )
    return text if len(text) <= MESSAGE_MAX_LENGTH else text[: MESSAGE_MAX_LENGTH - 1] + "…"


def ensure_default_rules(store: RuleStore, tenant_id: str) -> None:
    """Give a tenant the default rules once; a tenant that deleted them does not get them back."""
    if not store.is_seeded(tenant_id):
        store.seed(tenant_id, default_rules())


def list_rules(store: RuleStore, tenant_id: str, *, limit: int, cursor: str | None) -> Page[AlertRule]:
    """A page of the tenant's rules, by rule_id; the first read of a new tenant seeds the defaults."""
    start_key = decode_cursor(cursor, tenant_id=tenant_id, query=RULES_QUERY) if cursor is not None else None
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
