"""Models of the auth domain: roles and permissions (DESIGN section 3, the only place that says which role
may do what), requests, responses, stored users and verified principals."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal, get_args

from pydantic import ConfigDict, Field

from alphapulse.core.inputs import Model

Permission = Literal[
    "view_metrics",
    "view_alerts",
    "acknowledge_alerts",
    "view_portfolio",
    "view_trades",
    "view_system",
    "execute_trades",
    "manage_users",
    "view_audit_logs",
    "manage_alert_rules",
]
Role = Literal["admin", "trader", "viewer"]

ALL_PERMISSIONS: frozenset[str] = frozenset(get_args(Permission))
ROLES: tuple[str, ...] = get_args(Role)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": ALL_PERMISSIONS,
    "trader": frozenset(
        {
            "view_metrics",
            "view_alerts",
            "acknowledge_alerts",
            "view_portfolio",
            "view_trades",
            "execute_trades",
        }
    ),
    "viewer": frozenset({"view_metrics", "view_portfolio", "view_trades"}),
}


def permissions_of(role: str) -> list[str]:
    """The sorted permissions of a role (KeyError for an unknown role)."""
    return sorted(ROLE_PERMISSIONS[role])


USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


class UserPublic(Model):
    """A user as the API shows it."""

    username: str
    tenant_id: str
    role: Role
    permissions: list[str]


class User(Model):
    """A stored user."""

    username: str
    tenant_id: str
    role: Role
    password_hash: str
    disabled: bool = False
    created_at: str
    updated_at: str


class Principal(Model):
    """The caller, as proven by a verified access token."""

    model_config = ConfigDict(frozen=True)

    username: str
    tenant_id: str
    role: Role
    permissions: frozenset[str]
    token_id: str
    session_id: str
    expires_at: int

    @cached_property
    def public(self) -> UserPublic:
        """The caller as the API shows it (computed once: principals are cached per token)."""
        return UserPublic(
            username=self.username,
            tenant_id=self.tenant_id,
            role=self.role,
            permissions=sorted(self.permissions),
        )


class LoginRequest(Model):
    """OAuth2 password-flow credentials, from a form or a JSON body."""

    model_config = ConfigDict(extra="ignore")

    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=1024)
    grant_type: Literal["password"] | None = None
    tenant_id: str | None = Field(default=None, max_length=64)


class RefreshRequest(Model):
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenResponse(Model):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int
    refresh_token: str
    user: UserPublic


class WsTicketResponse(Model):
    ticket: str
    expires_in: int


@dataclass(frozen=True)
class TicketGrant:
    """Who a redeemed WebSocket ticket admits, and until when their token is valid (epoch seconds)."""

    username: str
    tenant_id: str
    permissions: frozenset[str]
    token_expires_at: int
