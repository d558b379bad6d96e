"""Roles and permissions (DESIGN section 3). The only place that says which role may do what."""

from __future__ import annotations

from typing import Literal, get_args

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
