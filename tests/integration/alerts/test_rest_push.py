"""The alerts REST routes push an operator's acknowledge and resolve as `alert_update` (DESIGN section 4)."""

from __future__ import annotations

import pytest

from alphapulse.auth.logic.tokens import issue_token
from tests.conftest import Function, RestClient, sns
from tests.fakes import PushRecorder
from tests.integration.ingest.test_alert_ingest import message


def token(tenant: str = "default", role: str = "trader") -> str:
    return issue_token(typ="access", username=f"{tenant}-op", tenant_id=tenant, role=role, session_id="s")[0]


@pytest.fixture
def api(table: str) -> RestClient:
    return RestClient("functions/alerts", "alerts")


@pytest.fixture
def alert_id(alert_ingest_function: Function, pushes: PushRecorder) -> str:
    alert_ingest_function(sns(message(31)))
    created: str = pushes.calls.pop()[3]["alert_id"]
    return created


def test_acknowledge_and_resolve_push_alert_update(api: RestClient, pushes: PushRecorder, alert_id: str) -> None:
    acked = api.request("POST", f"/api/v1/alerts/{alert_id}/acknowledge", token=token(), json_body={"note": "on it"})
    assert acked.status == 200
    resolved = api.request("POST", f"/api/v1/alerts/{alert_id}/resolve", token=token())
    assert resolved.status == 200
    assert [(t, c, k) for t, c, k, _ in pushes.calls] == [("default", "alerts", "alert_update")] * 2
    assert pushes.calls[0][3] == acked.json() and pushes.calls[0][3]["ack_note"] == "on it"
    assert pushes.calls[1][3] == resolved.json() and pushes.calls[1][3]["status"] == "resolved"


def test_refused_changes_push_nothing(api: RestClient, pushes: PushRecorder, alert_id: str) -> None:
    assert api.request("POST", f"/api/v1/alerts/{alert_id}/resolve", token=token()).status == 200
    pushes.calls.clear()
    assert api.request("POST", f"/api/v1/alerts/{alert_id}/resolve", token=token()).status == 409
    assert api.request("POST", f"/api/v1/alerts/{alert_id}/acknowledge", token=token()).status == 409
    assert api.request("POST", "/api/v1/alerts/unknown/acknowledge", token=token()).status == 404
    assert api.request("POST", f"/api/v1/alerts/{alert_id}/acknowledge", token=token("acme")).status == 404
    assert api.request("POST", f"/api/v1/alerts/{alert_id}/acknowledge", token=token(role="viewer")).status == 403
    assert pushes.calls == []


def test_failed_push_does_not_undo_the_acknowledgement(api: RestClient, pushes: PushRecorder, alert_id: str) -> None:
    pushes.fail = 1
    reply = api.request("POST", f"/api/v1/alerts/{alert_id}/acknowledge", token=token())
    assert reply.status == 200 and reply.json()["status"] == "acknowledged"
    assert api.request("GET", f"/api/v1/alerts/{alert_id}", token=token()).json()["status"] == "acknowledged"
