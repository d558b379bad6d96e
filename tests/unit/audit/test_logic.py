"""audit.logic with an in-memory store: what an entry holds, what is cut short, and the window and cursors of a
page."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alphapulse.audit.logic import AuditTrail, list_entries
from alphapulse.audit.models import AuditEntry
from alphapulse.core.errors import BadRequestError
from alphapulse.core.times import TimeRange

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class MemoryStore:
    def __init__(self) -> None:
        self.entries: list[tuple[AuditEntry, int]] = []
        self.queries: list[dict[str, Any]] = []

    def put(self, entry: AuditEntry, *, expires_at: int) -> None:
        self.entries.append((entry, expires_at))

    def list(self, tenant_id: str, **query: Any) -> tuple[list[AuditEntry], dict[str, Any] | None]:
        self.queries.append({"tenant_id": tenant_id, **query})
        return [entry for entry, _ in self.entries], {"pk": {"S": "AUDIT#default"}, "sk": {"S": "x"}}


@pytest.fixture
def store(app_env: None) -> MemoryStore:
    return MemoryStore()


def test_an_entry_carries_the_trail_and_a_long_actor_or_target_is_cut(store: MemoryStore) -> None:
    trail = AuditTrail(lambda: store, source_ip="203.0.113.10", request_id="req-1")
    trail.record("acme", "x" * 500, "auth.login_failed", target="t" * 500)
    ((entry, expires_at),) = store.entries
    assert (entry.tenant_id, entry.action, entry.source_ip, entry.request_id) == (
        "acme", "auth.login_failed", "203.0.113.10", "req-1",
    )  # fmt: skip
    assert len(entry.actor) == 128 and len(entry.target or "") == 256
    assert expires_at > datetime.now(UTC).timestamp() + 399 * 86400


def test_an_entry_of_no_valid_tenant_is_refused_by_the_repository_logged_and_not_raised(
    log_output: io.StringIO,
) -> None:
    from alphapulse.audit.repositories import AuditRepository

    class NoClient(AuditRepository):
        @property
        def client(self) -> Any:
            raise AssertionError("no key may be built for this tenant, so nothing is sent")

    AuditTrail(lambda: NoClient("DataTable")).record("Not A Tenant#", "someone", "auth.logout")
    (line,) = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert (line["message"], line["exception_name"]) == ("audit write failed", "ValueError")


def test_the_default_window_is_the_last_30_days_and_a_cursor_keeps_it(store: MemoryStore) -> None:
    first = list_entries(store, "default", actor="bob", now=NOW)
    query = store.queries[-1]
    assert (query["start"], query["end"]) == ("2026-10-25T12:00:00.000000Z", "2026-11-24T12:00:00.000000Z")
    assert first.next_cursor
    list_entries(store, "default", actor="bob", cursor=first.next_cursor, now=NOW + timedelta(days=3))
    assert (store.queries[-1]["start"], store.queries[-1]["end"]) == (query["start"], query["end"])
    assert store.queries[-1]["start_key"] == {"pk": {"S": "AUDIT#default"}, "sk": {"S": "x"}}


@pytest.mark.parametrize(
    ("tenant", "actor", "action", "window"),
    [
        ("acme", "bob", None, TimeRange()),  # another tenant
        ("default", "alice", None, TimeRange()),  # another actor
        ("default", "bob", "auth.login", TimeRange()),  # another action
        ("default", "bob", None, TimeRange(start=NOW - timedelta(days=1))),  # another window
    ],
)
def test_a_cursor_serves_only_its_own_tenant_and_filters(
    store: MemoryStore, tenant: str, actor: str, action: Any, window: TimeRange
) -> None:
    cursor = list_entries(store, "default", actor="bob", now=NOW).next_cursor
    with pytest.raises(BadRequestError):
        list_entries(store, tenant, actor=actor, action=action, requested=window, cursor=cursor, now=NOW)
