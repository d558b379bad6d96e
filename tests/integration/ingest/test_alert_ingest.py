"""The alert ingest function on moto: the alert lifecycle of DESIGN section 4 driven by SNS messages,
each change pushed once on `alerts`."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from alphapulse.alerts.repositories.alerts import AlertRepository
from alphapulse.ingest.models.checks import InvalidEventError
from tests.conftest import Function, items, load_event, sns
from tests.fakes import PushRecorder


def message(minute: int, status: str = "firing", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(load_event("alert-ingest-firing")["Records"][0]["Sns"]["Message"])
    body.update(status=status, timestamp=f"2026-01-15T14:{minute:02d}:00Z", **changes)
    return body


def test_canned_firing_then_resolved(alert_ingest_function: Function, pushes: PushRecorder) -> None:
    assert alert_ingest_function(load_event("alert-ingest-firing")) == {"pushed": 1}
    assert alert_ingest_function(load_event("alert-ingest-resolved")) == {"pushed": 1}
    (fired, resolved) = pushes.calls
    assert fired[:3] == ("default", "alerts", "alert") and fired[3]["status"] == "firing"
    assert resolved[:3] == ("default", "alerts", "alert_update") and resolved[3]["status"] == "resolved"
    assert resolved[3]["alert_id"] == fired[3]["alert_id"]


def test_firing_delivered_three_times_creates_one_alert_pushed_once(
    alert_ingest_function: Function, pushes: PushRecorder, table: str
) -> None:
    event = sns(message(31))
    assert [alert_ingest_function(copy.deepcopy(event))["pushed"] for _ in range(3)] == [1, 0, 0]
    (push,) = pushes.calls
    stored = AlertRepository(table).get("default", push[3]["alert_id"])
    assert stored is not None and stored.count == 1
    assert push[3] == stored.public().model_dump(mode="json")  # the REST alert


def test_lifecycle_bump_resolve_and_new_alert(alert_ingest_function: Function, pushes: PushRecorder) -> None:
    alert_ingest_function(sns(message(31)))
    alert_ingest_function(sns(message(32, metric_value=1.7)))  # same dedup key, still firing: a bump
    alert_ingest_function(sns(message(33, "resolved")))
    alert_ingest_function(sns(message(33, "resolved")))  # redelivered: nothing
    alert_ingest_function(sns(message(34)))  # after resolution: a new alert
    kinds = [(call[2], call[3]["status"], call[3]["count"]) for call in pushes.calls]
    assert kinds == [
        ("alert", "firing", 1),
        ("alert", "firing", 2),
        ("alert_update", "resolved", 2),
        ("alert", "firing", 1),
    ]
    first, _, resolved, reopened = (call[3]["alert_id"] for call in pushes.calls)
    assert first == resolved != reopened
    assert pushes.calls[1][3]["metric_value"] == 1.7


def test_resolved_without_active_alert_pushes_nothing(alert_ingest_function: Function, pushes: PushRecorder) -> None:
    assert alert_ingest_function(sns(message(40, "resolved"))) == {"pushed": 0}
    assert pushes.calls == []


def test_invalid_record_fails_the_batch_and_writes_nothing(
    alert_ingest_function: Function, pushes: PushRecorder, moto_server: str, table: str
) -> None:
    with pytest.raises(InvalidEventError):
        alert_ingest_function(sns(message(31), {**message(32), "severity": "apocalyptic"}))
    assert items(moto_server, table) == [] and pushes.calls == []


def test_failed_push_of_a_bump_is_made_by_the_retry(alert_ingest_function: Function, pushes: PushRecorder) -> None:
    alert_ingest_function(sns(message(31)))
    pushes.fail = 1
    with pytest.raises(ConnectionError):
        alert_ingest_function(sns(message(32)))
    assert alert_ingest_function(sns(message(32))) == {"pushed": 1}
    assert alert_ingest_function(sns(message(32))) == {"pushed": 0}
    assert [call[3]["count"] for call in pushes.calls] == [1, 2]


def test_alerts_of_two_tenants_stay_apart(alert_ingest_function: Function, pushes: PushRecorder) -> None:
    alert_ingest_function(sns(message(31)))
    alert_ingest_function(sns(message(31, tenant_id="acme")))
    assert [(call[0], call[3]["count"]) for call in pushes.calls] == [("default", 1), ("acme", 1)]


def test_failed_push_of_a_resolution_by_dedup_key_is_made_by_the_retry(
    alert_ingest_function: Function, pushes: PushRecorder, moto_server: str, table: str
) -> None:
    # The rules engine resolves by dedup key only: the retry no longer finds an active alert for the key.
    alert_ingest_function(sns(message(31)))
    pushes.fail = 1
    with pytest.raises(ConnectionError):
        alert_ingest_function(sns(message(33, "resolved")))
    assert alert_ingest_function(sns(message(33, "resolved"))) == {"pushed": 1}
    assert alert_ingest_function(sns(message(33, "resolved"))) == {"pushed": 0}
    (fired, resolved) = pushes.calls
    assert resolved[2:] == ("alert_update", {**resolved[3], "status": "resolved"})
    assert resolved[3]["alert_id"] == fired[3]["alert_id"]
    assert not any("push_pending" in item for item in items(moto_server, table))


def test_resolution_of_another_event_does_not_push_an_older_resolution(
    alert_ingest_function: Function, pushes: PushRecorder
) -> None:
    alert_ingest_function(sns(message(31)))
    alert_ingest_function(sns(message(33, "resolved")))
    # A different, later resolution of the same key: nothing is active, and it owes no push.
    assert alert_ingest_function(sns(message(35, "resolved"))) == {"pushed": 0}
    assert [call[2] for call in pushes.calls] == ["alert", "alert_update"]


def test_alert_value_that_storage_would_refuse_is_invalid_and_writes_nothing(
    alert_ingest_function: Function, pushes: PushRecorder, moto_server: str, table: str
) -> None:
    with pytest.raises(InvalidEventError, match="metric_value"):
        alert_ingest_function(sns(message(31, metric_value=1e200)))
    assert items(moto_server, table) == [] and pushes.calls == []
