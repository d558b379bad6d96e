"""The alert rules engine: reported values against the tenant's rules, alert messages out (DESIGN section 4).

Values come as a `MetricReport`: a `MetricsReported` event's metrics by name, or a `SystemStatusReported`
event's resources mapped to metric names (`ingest.models.SYSTEM_METRICS`). Each enabled rule whose metric
is reported is evaluated:

- condition met: publish a firing message, but only once `cooldown_seconds` have passed since the
  rule's last firing message, whether its alert is still firing (alert ingest then bumps its count)
  or resolved meanwhile (a new alert): a flapping metric opens at most one alert per cooldown;
- condition not met, rule firing: publish a resolved message (the rule's alert resolves).

A rule that is firing but disabled or deleted is resolved by the tenant's next report, whatever
its metrics, with a message saying so.

Each rule keeps one state item (firing, last fired, last change). Times are the events' own
timestamps, so cooldowns do not depend on delivery delays, and an event not newer than the last
change (a redelivery, or one overtaken by a newer report) changes nothing. Every change is a
conditional write on the state that was read, so concurrent evaluations have one winner, and
it stores the message it owes in the same write (a claim, as in `ingest`): the message is
published, then the claim cleared; a message whose publish failed is published by the next
evaluation of the rule (the retry of the same event included) before anything else.

Messages use DESIGN section 6's shape; the dedup key is per tenant and rule, so one rule has at
most one active alert. A rule with several label sets (one latency per route) shares that state.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from alphapulse.alerts.logic.rules import RuleStore, evaluate, render_message, tenant_rules
from alphapulse.alerts.models import AlertRule, MetricReport, RuleState
from alphapulse.core.claims import DEFAULT_LEASE_SECONDS, Claim
from alphapulse.core.errors import DataAccessError
from alphapulse.core.observability import get_logger
from alphapulse.core.storage import MAX_ATTEMPTS
from alphapulse.core.times import iso, parse_iso

SOURCE = "alphapulse.rules"

Sender = Callable[[Mapping[str, Any]], object]
"""Publishes one alert message (a JSON object) on the alerts topic."""


class PublishInProgressError(RuntimeError):
    """Another invocation holds the rule's unpublished message; Lambda retries this one later."""


class RuleStateStore(Protocol):
    def get(self, tenant_id: str, rule_id: str) -> RuleState | None: ...
    def change(
        self,
        tenant_id: str,
        rule_id: str,
        *,
        seen: RuleState | None,
        new: RuleState,
    ) -> bool: ...
    def take_over_message(self, tenant_id: str, rule_id: str, seen: Claim, claim: Claim) -> bool: ...
    def release_message(self, tenant_id: str, rule_id: str, claim: Claim) -> bool: ...
    def active(self, tenant_id: str) -> list[str]: ...


def evaluate_report(
    report: MetricReport,
    rules: RuleStore,
    states: RuleStateStore,
    send: Sender,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> list[dict[str, Any]]:
    """Evaluate one report against its tenant's rules (seeding the defaults); the messages published."""
    tenant_id, values, labels = report.tenant_id, report.values, report.labels
    engine = _Engine(states, send, lease_seconds=lease_seconds, clock=clock)
    sent: list[dict[str, Any]] = []
    known = {rule.rule_id: rule for rule in tenant_rules(rules, tenant_id)}
    for rule in known.values():
        if rule.enabled and rule.metric_name in values:
            sent.extend(engine.apply(tenant_id, rule, values[rule.metric_name], report.timestamp, labels))
    for rule_id in states.active(tenant_id):
        retired = known.get(rule_id)
        if retired is None or not retired.enabled:
            sent.extend(engine.retire(tenant_id, rule_id, retired, report.timestamp))
    return sent


def dedup_key(tenant_id: str, rule_id: str) -> str:
    """The dedup key of a rule's alerts: one active alert per tenant and rule."""
    return f"{SOURCE}:{tenant_id}:{rule_id}"


def alert_message(
    tenant_id: str, rule: AlertRule, value: float, at: datetime, labels: Mapping[str, str], *, firing: bool
) -> dict[str, Any]:
    """The SNS alert message (DESIGN section 6) of a rule firing or resolving."""
    text = (
        render_message(rule, value)
        if firing
        else f"{rule.name}: {rule.metric_name} is {value:g}, no longer {rule.condition}"
    )
    return {
        "tenant_id": tenant_id,
        "title": rule.name,
        "message": text,
        "severity": rule.severity,
        "source": SOURCE,
        "rule_id": rule.rule_id,
        "metric_name": rule.metric_name,
        "metric_value": value,
        "labels": dict(labels),
        "dedup_key": dedup_key(tenant_id, rule.rule_id),
        "status": "firing" if firing else "resolved",
        "timestamp": iso(at),
    }


def retired_message(tenant_id: str, rule_id: str, rule: AlertRule | None, at: datetime) -> dict[str, Any]:
    """The resolved message of a firing rule that was disabled (`rule`) or deleted (None)."""
    name = rule.name if rule is not None else rule_id
    return {
        "tenant_id": tenant_id,
        "title": name,
        "message": f"{name}: rule {'disabled' if rule is not None else 'deleted'}, alert resolved",
        "severity": rule.severity if rule is not None else "info",
        "source": SOURCE,
        "rule_id": rule_id,
        "labels": {},
        "dedup_key": dedup_key(tenant_id, rule_id),
        "status": "resolved",
        "timestamp": iso(at),
    }


class _Engine:
    def __init__(
        self, states: RuleStateStore, send: Sender, *, lease_seconds: float, clock: Callable[[], float]
    ) -> None:
        self.states = states
        self.send = send
        self.lease_seconds = lease_seconds
        self.clock = clock

    def apply(
        self, tenant_id: str, rule: AlertRule, value: float, at: datetime, labels: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """Evaluate one enabled rule against a reported value."""
        met = evaluate(rule.condition, value)

        def decide(state: RuleState | None) -> dict[str, Any] | None:
            if met and not _cooled_down(state, rule, at):
                return None  # fired within the cooldown (its alert firing or already resolved)
            if not met and (state is None or not state.firing):
                return None
            return alert_message(tenant_id, rule, value, at, labels, firing=met)

        return self._change(tenant_id, rule.rule_id, at, decide)

    def retire(self, tenant_id: str, rule_id: str, rule: AlertRule | None, at: datetime) -> list[dict[str, Any]]:
        """Resolve the alert of a rule that was disabled (`rule`) or deleted (None) while firing."""

        def decide(state: RuleState | None) -> dict[str, Any] | None:
            if state is None or not state.firing:
                return None
            return retired_message(tenant_id, rule_id, rule, at)

        return self._change(tenant_id, rule_id, at, decide)

    def _change(
        self, tenant_id: str, rule_id: str, at: datetime, decide: Callable[[RuleState | None], dict[str, Any] | None]
    ) -> list[dict[str, Any]]:
        """Publish the message `decide` gives for the rule's current state (none: no change), once: the
        state change stores it, conditional on the state read, and a message still owed goes first."""
        sent: list[dict[str, Any]] = []
        stamp = iso(at)
        for _ in range(MAX_ATTEMPTS):
            state = self.states.get(tenant_id, rule_id)
            if state is not None and state.pending is not None and state.pending_message is not None:
                sent.extend(self._finish(tenant_id, rule_id, state.pending, state.pending_message))
                continue  # read the state again, now without a debt
            if state is not None and stamp <= state.changed_at:
                return sent  # a redelivery, or overtaken by a newer report
            message = decide(state)
            if message is None:
                return sent
            firing = message["status"] == "firing"
            claim = Claim.new(f"rule:{tenant_id}:{rule_id}:{stamp}", now=self.clock(), lease_seconds=self.lease_seconds)
            new = RuleState(
                firing=firing,
                fired_at=stamp if firing else (state.fired_at if state else None),
                changed_at=stamp,
                pending=claim,
                pending_message=json.dumps(message, separators=(",", ":")),
            )
            if not self.states.change(tenant_id, rule_id, seen=state, new=new):
                continue  # another evaluation changed the rule first: look again
            get_logger().info("rule changed", extra={"tenant_id": tenant_id, "rule_id": rule_id, "firing": firing})
            return [*sent, *self._publish(tenant_id, rule_id, claim, message)]
        raise PublishInProgressError("the rule's state kept changing")

    def _finish(self, tenant_id: str, rule_id: str, seen: Claim, pending_message: str) -> list[dict[str, Any]]:
        """Publish a message an earlier evaluation stored but did not publish (once its lease is over)."""
        if not seen.expired(self.clock()):
            raise PublishInProgressError("another invocation is publishing this rule's message")
        claim = seen.renewed(now=self.clock(), lease_seconds=self.lease_seconds)
        if not self.states.take_over_message(tenant_id, rule_id, seen, claim):
            return []  # someone else took it: the next read shows what they did
        get_logger().info("publishing an unfinished rule message", extra={"tenant_id": tenant_id, "rule_id": rule_id})
        message: dict[str, Any] = json.loads(pending_message)
        return self._publish(tenant_id, rule_id, claim, message)

    def _publish(self, tenant_id: str, rule_id: str, claim: Claim, message: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            self.send(message)
        except Exception:
            with contextlib.suppress(DataAccessError):  # then the retry waits for the lease
                self.states.take_over_message(tenant_id, rule_id, claim, claim.abandoned())
            raise
        self.states.release_message(tenant_id, rule_id, claim)
        return [message]


def _cooled_down(state: RuleState | None, rule: AlertRule, at: datetime) -> bool:
    if state is None or state.fired_at is None:
        return True
    return at >= parse_iso(state.fired_at) + timedelta(seconds=rule.cooldown_seconds)
