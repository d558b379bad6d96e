"""The audit log: who did what, when, to what, from where, in which request."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from alphapulse.core.inputs import Model
from alphapulse.core.times import UtcDatetime

AuditAction = Literal[
    "auth.login",
    "auth.login_failed",
    "auth.login_throttled",
    "auth.refresh_reuse",
    "auth.logout",
    "alert.acknowledge",
    "alert.resolve",
    "rule.create",
    "rule.replace",
    "rule.delete",
    "user.create",
    "user.set_role",
    "user.disable",
    "user.enable",
    "user.set_password",
]
AUDIT_ACTIONS: tuple[str, ...] = get_args(AuditAction)
ACTOR_MAX_LENGTH = 128
TARGET_MAX_LENGTH = 256


class AuditEntry(Model):
    """One audited action. It never holds a password, a token or a secret: the actor is a username (or the
    name a login attempt gave), the target an id."""

    entry_id: str = Field(description="Unique id of the entry")
    tenant_id: str
    at: UtcDatetime = Field(description="When the action happened (UTC)")
    actor: str = Field(max_length=ACTOR_MAX_LENGTH, description="Who: a username, or `cli:<os user>`")
    action: AuditAction
    target: str | None = Field(default=None, max_length=TARGET_MAX_LENGTH, description="What it acted on")
    source_ip: str | None = Field(default=None, description="The caller's address (none for the users command)")
    request_id: str | None = Field(default=None, description="The request's X-Request-Id, or the command's run id")
