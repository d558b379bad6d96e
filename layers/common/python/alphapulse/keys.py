"""Key builders. Every stored item of a tenant has a key that starts with its tenant.

One place builds keys, so no code can forget the tenant prefix. The separator is
refused inside parts, so a crafted id can never reach into another key space.
"""

from __future__ import annotations

import hashlib
import re

SEPARATOR = "#"
DEFAULT_TENANT = "default"
_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def valid_tenant_id(tenant_id: str) -> bool:
    """True for a tenant id we accept: lower-case letters, digits and '-', at most 63 characters."""
    return bool(_TENANT_ID.match(tenant_id))


def key(*parts: str) -> str:
    """Join key parts; a part that contains the separator is a bug or an attack."""
    for part in parts:
        if SEPARATOR in part:
            raise ValueError(f"key part contains {SEPARATOR!r}")
    return SEPARATOR.join(parts)


def tenant_key(tenant_id: str, *parts: str) -> str:
    """A key inside a tenant's space: `T#<tenant>#<part>#...`."""
    if not valid_tenant_id(tenant_id):
        raise ValueError("invalid tenant id")
    return key("T", tenant_id, *parts)


def user_key(username: str) -> str:
    """Users are global (a login names no tenant); the item records its tenant."""
    return key("USER", username)


def tenant_users_key(tenant_id: str) -> str:
    """Partition of the users index that lists one tenant's users."""
    return tenant_key(tenant_id, "USERS")


def session_key(session_id: str) -> str:
    """A refresh-token family."""
    return key("SESSION", session_id)


def ticket_key(ticket_digest: str) -> str:
    """A WebSocket ticket, stored by the digest of its value."""
    return key("TICKET", ticket_digest)


def login_failures_key(username: str) -> str:
    """The failed-login counter of any attempted username, existing or not, keyed by its digest."""
    return key("LOGIN", hashlib.sha256(username.encode("utf-8")).hexdigest())
