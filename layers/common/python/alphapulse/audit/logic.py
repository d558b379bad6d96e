"""The audit log: recording an action (never failing the action it records) and paging a tenant's entries."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from alphapulse.audit.models import ACTOR_MAX_LENGTH, TARGET_MAX_LENGTH, AuditAction, AuditEntry
from alphapulse.core.config import get_settings
from alphapulse.core.observability import count, get_logger
from alphapulse.core.pagination import Page, fingerprint, window_page
from alphapulse.core.times import TimeRange, utcnow

DEFAULT_WINDOW = timedelta(days=30)


class AuditStore(Protocol):
    """Where entries go and are read from (`audit.repositories.AuditRepository`)."""

    def put(self, entry: AuditEntry, *, expires_at: int) -> None: ...

    def list(
        self,
        tenant_id: str,
        *,
        start: str,
        end: str,
        actor: str | None,
        action: str | None,
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[AuditEntry], dict[str, Any] | None]: ...


@dataclass(frozen=True)
class AuditTrail:
    """Records the actions of one request (or one run of a command), with where it came from. The store is
    looked up when an entry is written, so that even a function without an audit table only logs a failure."""

    store: Callable[[], AuditStore]
    source_ip: str | None = None
    request_id: str | None = None

    def record(self, tenant_id: str, actor: str, action: AuditAction, target: str | None = None) -> None:
        """Write one entry. A failed write is logged and counted (`AuditWriteFailed`), never raised: the action
        it records has happened, or is being refused, either way."""
        try:
            entry = AuditEntry(
                entry_id=uuid.uuid4().hex,
                tenant_id=tenant_id,
                at=utcnow(),
                actor=actor[:ACTOR_MAX_LENGTH],
                action=action,
                target=target[:TARGET_MAX_LENGTH] if target is not None else None,
                source_ip=self.source_ip,
                request_id=self.request_id,
            )
            expires_at = int(time.time()) + get_settings().audit_retention_days * 86400
            self.store().put(entry, expires_at=expires_at)
        except Exception:
            count("AuditWriteFailed")
            get_logger().exception("audit write failed", extra={"audit_action": action, "tenant_id": tenant_id})


def list_entries(
    store: AuditStore,
    tenant_id: str,
    *,
    actor: str | None = None,
    action: AuditAction | None = None,
    requested: TimeRange | None = None,
    limit: int = 100,
    cursor: str | None = None,
    now: datetime | None = None,
) -> Page[AuditEntry]:
    """One page of the tenant's entries in the window (by default the last 30 days), newest first. A cursor
    keeps its first page's window and is bound to the tenant and the filters (anything else is a 400)."""
    requested = requested or TimeRange()
    items, next_cursor = window_page(
        lambda start, end, start_key: store.list(
            tenant_id, start=start, end=end, actor=actor, action=action, limit=limit, start_key=start_key
        ),
        tenant_id=tenant_id,
        query=fingerprint(list="audit", actor=actor, action=action, **requested.fingerprint()),
        requested=requested,
        default_span=DEFAULT_WINDOW,
        cursor=cursor,
        now=now or utcnow(),
    )
    return Page[AuditEntry](items=items, next_cursor=next_cursor)
