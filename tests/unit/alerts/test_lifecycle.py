"""Alert logic with in-memory stores: the firing lifecycle, operator actions, races and retries,
and the seeding of default rules. (The DynamoDB adapters are tested against moto in
tests/integration/test_alerts_api.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alphapulse.alerts.logic import defaults
from alphapulse.alerts.logic import lifecycle as alerts
from alphapulse.alerts.logic import rules as rule_logic
from alphapulse.alerts.models import (
    AlertEvent,
    AlertFilters,
    AlertRecord,
    AlertRule,
    AlertRuleInput,
    CreateOutcome,
    DedupState,
)
from alphapulse.core.errors import BadRequestError, ConflictError, DataAccessError, NotFoundError
from alphapulse.core.times import iso

T0 = datetime(2025, 11, 24, 2, 30, tzinfo=UTC)


class MemoryAlerts:
    """The AlertStore contract, in memory (one tenant's view is `tenant_id`-keyed dicts)."""

    def __init__(self) -> None:
        self.alerts: dict[tuple[str, str], AlertRecord] = {}
        self.active: dict[tuple[str, str], str] = {}
        self.watermarks: dict[tuple[str, str], str] = {}

    def get(self, tenant_id: str, alert_id: str) -> AlertRecord | None:
        return self.alerts.get((tenant_id, alert_id))

    def query(
        self, tenant_id: str, filters: AlertFilters, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[AlertRecord], dict[str, Any] | None]:
        records = sorted(
            (a for (t, _), a in self.alerts.items() if t == tenant_id and filters.status in (None, a.status)),
            key=lambda a: (a.created_at, a.alert_id),
            reverse=True,
        )
        return records[:limit], None

    def dedup_state(self, tenant_id: str, dedup_key: str) -> DedupState:
        return DedupState(self.active.get((tenant_id, dedup_key)), self.watermarks.get((tenant_id, dedup_key)))

    def create(self, tenant_id: str, alert: AlertRecord) -> CreateOutcome:
        if (tenant_id, alert.alert_id) in self.alerts:
            return "id_taken"
        if alert.dedup_key is not None:
            key = (tenant_id, alert.dedup_key)
            if key in self.active:
                return "dedup_taken"
            if key in self.watermarks and self.watermarks[key] >= alert.last_event_at:
                return "stale"
            self.active[key] = alert.alert_id
        self.alerts[(tenant_id, alert.alert_id)] = alert
        return "created"

    def bump(
        self, tenant_id: str, alert_id: str, *, event_at: datetime, metric_value: float | None
    ) -> AlertRecord | None:
        alert = self.alerts.get((tenant_id, alert_id))
        if alert is None or alert.status == "resolved" or alert.last_event_at >= iso(event_at):
            return None
        changes: dict[str, Any] = {"count": alert.count + 1, "last_seen": event_at, "last_event_at": iso(event_at)}
        if metric_value is not None:
            changes["metric_value"] = metric_value
        self.alerts[(tenant_id, alert_id)] = updated = alert.model_copy(update=changes)
        return updated

    def acknowledge(
        self, tenant_id: str, alert_id: str, *, by: str, at: datetime, note: str | None
    ) -> AlertRecord | None:
        alert = self.alerts.get((tenant_id, alert_id))
        if alert is None or alert.status != "firing":
            return None
        changes = {"status": "acknowledged", "acknowledged": True, "acknowledged_by": by, "acknowledged_at": at}
        self.alerts[(tenant_id, alert_id)] = updated = alert.model_copy(update={**changes, "ack_note": note})
        return updated

    def resolve(
        self, tenant_id: str, alert: AlertRecord, *, by: str, at: datetime, note: str | None, last_event_at: str
    ) -> AlertRecord | None:
        current = self.alerts.get((tenant_id, alert.alert_id))
        if current is None or (current.status, current.last_event_at) != (alert.status, alert.last_event_at):
            return None
        changes = {"status": "resolved", "resolved_at": at, "resolved_by": by, "resolve_note": note}
        self.alerts[(tenant_id, alert.alert_id)] = updated = current.model_copy(
            update={**changes, "last_event_at": last_event_at}
        )
        if alert.dedup_key is not None and self.active.get((tenant_id, alert.dedup_key)) == alert.alert_id:
            del self.active[(tenant_id, alert.dedup_key)]
            self.watermarks[(tenant_id, alert.dedup_key)] = last_event_at
        return updated

    def settle(self, tenant_id: str, dedup_key: str, *, watermark: str) -> None:
        key = (tenant_id, dedup_key)
        self.watermarks[key] = max(self.watermarks.get(key, ""), watermark)


class MemoryRules:
    def __init__(self) -> None:
        self.rules: dict[tuple[str, str], AlertRule] = {}
        self.seeded: set[str] = set()
        self.calls: list[str] = []

    def is_seeded(self, tenant_id: str) -> bool:
        self.calls.append("is_seeded")
        return tenant_id in self.seeded

    def seed(self, tenant_id: str, rules: list[AlertRule]) -> bool:
        self.calls.append("seed")
        if tenant_id in self.seeded:
            return False
        self.seeded.add(tenant_id)
        self.rules.update({(tenant_id, rule.rule_id): rule for rule in rules})
        return True

    def query(
        self, tenant_id: str, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[AlertRule], dict[str, Any] | None]:
        self.calls.append("query")
        ordered = sorted((r for (t, _), r in self.rules.items() if t == tenant_id), key=lambda r: r.rule_id)
        after = [r for r in ordered if start_key is None or r.rule_id > start_key["rule_id"]]
        page = after[:limit]
        return page, ({"rule_id": page[-1].rule_id} if len(after) > limit else None)

    def get(self, tenant_id: str, rule_id: str) -> AlertRule | None:
        return self.rules.get((tenant_id, rule_id))

    def create(self, tenant_id: str, rule: AlertRule) -> None:
        self.rules[(tenant_id, rule.rule_id)] = rule

    def replace(self, tenant_id: str, rule: AlertRule) -> bool:
        if (tenant_id, rule.rule_id) not in self.rules:
            return False
        self.rules[(tenant_id, rule.rule_id)] = rule
        return True

    def delete(self, tenant_id: str, rule_id: str) -> bool:
        return self.rules.pop((tenant_id, rule_id), None) is not None


@pytest.fixture
def store() -> MemoryAlerts:
    return MemoryAlerts()


@pytest.fixture
def rules() -> MemoryRules:
    return MemoryRules()


@pytest.fixture(autouse=True)
def _signing_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Cursors are signed with a key derived from the JWT secret.
    monkeypatch.setenv("APP_ENV", "local")
    monkeypatch.setenv("JWT_SECRET", "unit-test-secret-" + "0123456789abcdef" * 2)
    from tests.conftest import reset_caches

    reset_caches()
    yield
    reset_caches()


def event(minutes: float = 0, **fields: Any) -> AlertEvent:
    values = {
        "message": "Leverage is 1.7x",
        "severity": "error",
        "source": "rules-engine",
        "status": "firing",
        "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
        **fields,
    }
    return AlertEvent.model_validate(values)


# --- events ---------------------------------------------------------------------------------------


def test_alert_event_defaults_tenant_and_accepts_naive_time() -> None:
    parsed = AlertEvent.model_validate(
        {"message": "m", "severity": "info", "source": "s", "status": "firing", "timestamp": "2025-11-24T02:30:00"}
    )
    assert parsed.tenant_id == "default"
    assert parsed.timestamp == T0


def test_alert_event_scalar_labels_become_text() -> None:
    assert event(labels={"n": 3, "f": 1.5, "b": True, "s": "x"}).labels == {"n": "3", "f": "1.5", "b": "true", "s": "x"}


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "resolved"},  # nothing names the alert
        {"status": "open"},
        {"severity": "fatal"},
        {"tenant_id": "Bad#Tenant"},
        {"alert_id": "a#b"},
        {"alert_id": "rules"},
        {"metric_value": float("nan")},
        {"labels": {"k": {"nested": 1}}},
        {"message": ""},
        {"timestamp": "not a time"},
        {"timestamp": "0001-01-01T00:00:00+05:00"},
        {"timestamp": "9999-12-31T23:59:59-05:00"},
    ],
)
def test_alert_event_invalid_raises(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        event(**fields)


# --- fire -----------------------------------------------------------------------------------------


def test_fire_new_dedup_key_creates_firing_alert(store: MemoryAlerts) -> None:
    result = alerts.fire(store, event(dedup_key="k", title="Leverage", rule_id="portfolio_leverage"), now=T0)
    assert result.action == "created" and result.alert is not None
    alert = result.alert
    assert (alert.status, alert.count, alert.title, alert.rule_id) == ("firing", 1, "Leverage", "portfolio_leverage")
    assert alert.first_seen == alert.last_seen == alert.created_at == T0
    assert len(alert.alert_id) == 32
    assert not hasattr(alert, "last_event_at")


def test_fire_title_defaults_to_message(store: MemoryAlerts) -> None:
    result = alerts.fire(store, event(message="x" * 300))
    assert result.alert is not None and result.alert.title == "x" * 256


def test_fire_active_key_bumps_instead_of_creating(store: MemoryAlerts) -> None:
    first = alerts.fire(store, event(0, dedup_key="k"))
    second = alerts.fire(store, event(1, dedup_key="k", metric_value=2.0))
    assert second.action == "bumped" and second.alert is not None and first.alert is not None
    assert (second.alert.alert_id, second.alert.count, second.alert.metric_value) == (first.alert.alert_id, 2, 2.0)
    assert len(store.alerts) == 1


def test_fire_redelivery_and_older_events_are_ignored(store: MemoryAlerts) -> None:
    alerts.fire(store, event(5, dedup_key="k"))
    assert alerts.fire(store, event(5, dedup_key="k")).action == "ignored"
    assert alerts.fire(store, event(4, dedup_key="k")).action == "ignored"
    (alert,) = store.alerts.values()
    assert alert.count == 1


def test_fire_keys_are_per_tenant(store: MemoryAlerts) -> None:
    alerts.fire(store, event(0, dedup_key="k"))
    other = alerts.fire(store, event(1, dedup_key="k", tenant_id="acme"))
    assert other.action == "created"


def test_fire_lost_create_race_becomes_bump(store: MemoryAlerts, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given another delivery creates the alert between our read and our write
    winner = alerts.fire(store, event(0, dedup_key="k"))
    real_state = store.dedup_state
    calls = iter([DedupState()])
    monkeypatch.setattr(store, "dedup_state", lambda t, k: next(calls, None) or real_state(t, k))
    # When our create loses
    result = alerts.fire(store, event(1, dedup_key="k"))
    # Then we retried as a bump of the winner
    assert result.action == "bumped" and result.alert is not None and winner.alert is not None
    assert (result.alert.alert_id, result.alert.count) == (winner.alert.alert_id, 2)


def test_fire_stale_create_outcome_is_ignored(store: MemoryAlerts, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "create", lambda tenant_id, alert: "stale")
    assert alerts.fire(store, event(dedup_key="k")).action == "ignored"


def test_fire_endless_contention_is_a_storage_error(store: MemoryAlerts, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "create", lambda tenant_id, alert: "retry")
    with pytest.raises(DataAccessError):
        alerts.fire(store, event(dedup_key="k"))


def test_fire_resolved_event_resolves_active_alert(store: MemoryAlerts) -> None:
    created = alerts.fire(store, event(0, dedup_key="k"))
    resolved = alerts.fire(store, event(3, dedup_key="k", status="resolved", source="prometheus"))
    assert resolved.action == "resolved" and resolved.alert is not None and created.alert is not None
    assert resolved.alert.alert_id == created.alert.alert_id
    assert (resolved.alert.resolved_by, resolved.alert.resolved_at) == ("prometheus", T0 + timedelta(minutes=3))
    assert store.dedup_state("default", "k") == DedupState(None, iso(T0 + timedelta(minutes=3)))


def test_fire_after_resolution_newer_creates_older_ignored(store: MemoryAlerts) -> None:
    alerts.fire(store, event(0, dedup_key="k"))
    alerts.fire(store, event(2, dedup_key="k", status="resolved"))
    assert alerts.fire(store, event(1, dedup_key="k")).action == "ignored"
    assert alerts.fire(store, event(2, dedup_key="k")).action == "ignored"
    assert alerts.fire(store, event(3, dedup_key="k")).action == "created"
    assert len(store.alerts) == 2


def test_fire_resolved_event_without_active_alert_sets_watermark(store: MemoryAlerts) -> None:
    assert alerts.fire(store, event(2, dedup_key="k", status="resolved")).action == "ignored"
    assert alerts.fire(store, event(1, dedup_key="k")).action == "ignored"
    assert store.alerts == {}


def test_fire_resolved_event_stamped_ahead_does_not_hold_back_later_firing(store: MemoryAlerts) -> None:
    # Given a resolution for an unknown key, from a producer whose clock runs 4 minutes ahead
    arrived = T0 + timedelta(minutes=10)
    resolved = alerts.fire(store, event(14, dedup_key="k", status="resolved"), now=arrived)
    assert resolved.action == "ignored"
    later = T0 + timedelta(minutes=11)
    # Then a firing event stamped before its arrival was overtaken by it, and stays settled
    assert alerts.fire(store, event(9, dedup_key="k"), now=later).action == "ignored"
    # while one stamped after its arrival (by a correct clock) opens an alert
    assert alerts.fire(store, event(11, dedup_key="k"), now=later).action == "created"
    assert store.dedup_state("default", "k").watermark == iso(arrived)


def test_fire_resolved_event_older_than_last_firing_is_ignored(store: MemoryAlerts) -> None:
    alerts.fire(store, event(0, dedup_key="k"))
    alerts.fire(store, event(2, dedup_key="k"))
    result = alerts.fire(store, event(1, dedup_key="k", status="resolved"))
    assert result.action == "ignored" and result.alert is not None and result.alert.status == "firing"


def test_fire_explicit_alert_id_is_idempotent(store: MemoryAlerts) -> None:
    assert alerts.fire(store, event(0, alert_id="ext-1")).action == "created"
    assert alerts.fire(store, event(0, alert_id="ext-1")).action == "ignored"
    assert alerts.fire(store, event(1, alert_id="ext-1")).action == "bumped"
    assert alerts.fire(store, event(2, alert_id="ext-1", status="resolved")).action == "resolved"
    assert alerts.fire(store, event(3, alert_id="ext-1")).action == "ignored"
    assert store.alerts[("default", "ext-1")].count == 2


def test_fire_without_keys_derives_id_from_content(store: MemoryAlerts) -> None:
    first = alerts.fire(store, event(0))
    assert alerts.fire(store, event(0)).action == "ignored"
    assert alerts.fire(store, event(0, message="other")).action == "created"
    assert alerts.fire(store, event(0, tenant_id="acme")).action == "created"
    assert first.alert is not None and len(first.alert.alert_id) == 32


# --- operator actions -----------------------------------------------------------------------------


def _alert_id(store: MemoryAlerts, **fields: Any) -> str:
    result = alerts.fire(store, event(**fields))
    assert result.alert is not None
    return result.alert.alert_id


def test_acknowledge_alert_unknown_not_found(store: MemoryAlerts) -> None:
    with pytest.raises(NotFoundError):
        alerts.acknowledge_alert(store, "default", "nope", username="u", note=None)


def test_acknowledge_alert_other_tenant_not_found(store: MemoryAlerts) -> None:
    alert_id = _alert_id(store)
    with pytest.raises(NotFoundError):
        alerts.acknowledge_alert(store, "acme", alert_id, username="u", note=None)


@pytest.mark.parametrize(("first", "message"), [("acknowledge", "acknowledged"), ("resolve", "resolved")])
def test_acknowledge_alert_not_firing_conflict(store: MemoryAlerts, first: str, message: str) -> None:
    alert_id = _alert_id(store, dedup_key="k")
    getattr(alerts, f"{first}_alert")(store, "default", alert_id, username="u", note=None)
    with pytest.raises(ConflictError, match=f"already {message}"):
        alerts.acknowledge_alert(store, "default", alert_id, username="v", note=None)


def test_acknowledge_alert_records_operator(store: MemoryAlerts) -> None:
    alert_id = _alert_id(store)
    alert = alerts.acknowledge_alert(store, "default", alert_id, username="op", note="n", now=T0)
    assert (alert.status, alert.acknowledged, alert.acknowledged_by, alert.acknowledged_at, alert.ack_note) == (
        "acknowledged",
        True,
        "op",
        T0,
        "n",
    )


def test_resolve_alert_twice_conflict(store: MemoryAlerts) -> None:
    alert_id = _alert_id(store, dedup_key="k")
    alert = alerts.resolve_alert(store, "default", alert_id, username="op", note="done", now=T0)
    assert (alert.status, alert.resolved_by, alert.resolve_note, alert.resolved_at) == ("resolved", "op", "done", T0)
    with pytest.raises(ConflictError):
        alerts.resolve_alert(store, "default", alert_id, username="op", note=None)


def test_resolve_alert_unknown_not_found(store: MemoryAlerts) -> None:
    with pytest.raises(NotFoundError):
        alerts.resolve_alert(store, "default", "nope", username="op", note=None)


def test_resolve_alert_retries_after_concurrent_change(store: MemoryAlerts, monkeypatch: pytest.MonkeyPatch) -> None:
    alert_id = _alert_id(store, dedup_key="k")
    real = store.resolve
    outcomes = iter([None])
    monkeypatch.setattr(store, "resolve", lambda *a, **k: next(outcomes, None) or real(*a, **k))
    assert alerts.resolve_alert(store, "default", alert_id, username="op", note=None).status == "resolved"


def test_resolve_alert_endless_contention_is_a_storage_error(
    store: MemoryAlerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id = _alert_id(store)
    monkeypatch.setattr(store, "resolve", lambda *a, **k: None)
    with pytest.raises(DataAccessError):
        alerts.resolve_alert(store, "default", alert_id, username="op", note=None)


def test_resolve_alert_keeps_the_last_event_as_watermark(store: MemoryAlerts) -> None:
    alert_id = _alert_id(store, dedup_key="k")
    alerts.fire(store, event(1, dedup_key="k"))
    alerts.resolve_alert(store, "default", alert_id, username="op", note=None)
    assert store.dedup_state("default", "k").watermark == iso(T0 + timedelta(minutes=1))


def test_list_alerts_non_ascii_cursor_bad_request(store: MemoryAlerts) -> None:
    with pytest.raises(BadRequestError):
        alerts.list_alerts(store, "default", AlertFilters(), limit=10, cursor="é.é")


def test_list_alerts_returns_public_alerts(store: MemoryAlerts) -> None:
    _alert_id(store)
    page = alerts.list_alerts(store, "default", AlertFilters(), limit=10, cursor=None)
    assert len(page.items) == 1 and "last_event_at" not in page.items[0].model_dump()


# --- rules ----------------------------------------------------------------------------------------

NEW_RULE = AlertRuleInput(
    name="n", metric_name="m", condition="> 1", severity="info", message_template="{value}", cooldown_seconds=5
)


def test_list_rules_new_tenant_seeds_defaults_once(rules: MemoryRules) -> None:
    page = rule_logic.list_rules(rules, "t", limit=100, cursor=None)
    assert len(page.items) == 10 and page.next_cursor is None
    assert rule_logic.list_rules(rules, "t", limit=100, cursor=None).items == page.items
    assert rules.calls.count("seed") == 1


def test_list_rules_existing_rules_skip_the_marker_read(rules: MemoryRules) -> None:
    rule_logic.list_rules(rules, "t", limit=100, cursor=None)
    rules.calls.clear()
    rule_logic.list_rules(rules, "t", limit=100, cursor=None)
    assert rules.calls == ["query"]


def test_list_rules_after_deleting_all_stays_empty(rules: MemoryRules) -> None:
    for rule in rule_logic.tenant_rules(rules, "t"):
        rule_logic.delete_rule(rules, "t", rule.rule_id)
    assert rule_logic.list_rules(rules, "t", limit=100, cursor=None).items == []
    assert rule_logic.tenant_rules(rules, "t") == []


def test_list_rules_pages_with_cursor(rules: MemoryRules) -> None:
    first = rule_logic.list_rules(rules, "t", limit=4, cursor=None)
    assert first.next_cursor is not None
    second = rule_logic.list_rules(rules, "t", limit=4, cursor=first.next_cursor)
    assert [r.rule_id for r in first.items + second.items] == sorted(r.rule_id for r in defaults.default_rules())[:8]
    with pytest.raises(BadRequestError):
        rule_logic.list_rules(rules, "other", limit=4, cursor=first.next_cursor)


def test_create_rule_seeds_first_and_generates_id(rules: MemoryRules) -> None:
    created = rule_logic.create_rule(rules, "t", NEW_RULE)
    assert len(created.rule_id) == 32 and created.cooldown_seconds == 5
    assert len(rule_logic.tenant_rules(rules, "t")) == 11


def test_replace_rule_unknown_not_found(rules: MemoryRules) -> None:
    with pytest.raises(NotFoundError):
        rule_logic.replace_rule(rules, "t", "nope", NEW_RULE)


def test_replace_rule_default_on_new_tenant_works(rules: MemoryRules) -> None:
    replaced = rule_logic.replace_rule(rules, "t", "var_high", NEW_RULE)
    assert replaced.rule_id == "var_high" and rules.get("t", "var_high") == replaced


def test_delete_rule_unknown_not_found(rules: MemoryRules) -> None:
    with pytest.raises(NotFoundError):
        rule_logic.delete_rule(rules, "t", "nope")
