"""WebSocket $connect and $disconnect (DESIGN section 5, Connecting).

A connection presents exactly one credential in its query string: `ticket` (single use, from POST
/auth/ws-ticket; consumed with a conditional delete) or `token` (an access token). No credential,
both, or a bad one: 401. A valid credential that grants no channel at all: 403. Nothing is written
for a refused connection. The connection lives until `min(token expiry, connect + 2 h)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from alphapulse import tokens
from alphapulse.errors import AuthenticationError, PermissionDeniedError
from alphapulse.observability import get_logger
from alphapulse.realtime import CHANNEL_PERMISSIONS
from alphapulse.repositories.connections import Connection

INVALID_CREDENTIAL = "A valid ticket or access token is required"


class Tickets(Protocol):
    def consume(self, digest: str) -> dict[str, Any] | None: ...


class Connections(Protocol):
    def put(self, connection: Connection) -> None: ...
    def remove(self, connection_id: str, tenant_id: str | None = None) -> Connection | None: ...


def connect(
    connections: Connections,
    tickets: Tickets,
    connection_id: str,
    query: Mapping[str, str] | None,
    *,
    now: int,
    max_lifetime: int,
) -> Connection:
    """Admit and record a connection; AuthenticationError (401) or PermissionDeniedError (403) otherwise."""
    query = query or {}
    ticket, token = query.get("ticket"), query.get("token")
    if bool(ticket) == bool(token):
        raise AuthenticationError(INVALID_CREDENTIAL)
    if ticket:
        username, tenant_id, permissions, token_expires_at = _from_ticket(tickets, ticket, now)
    else:
        principal = tokens.verify_access_token(str(token))
        username, tenant_id = principal.username, principal.tenant_id
        permissions, token_expires_at = principal.permissions, principal.expires_at
    if token_expires_at <= now:
        raise AuthenticationError(INVALID_CREDENTIAL)
    if permissions.isdisjoint(CHANNEL_PERMISSIONS.values()):
        raise PermissionDeniedError("The credential grants no channel")
    connection = Connection(
        connection_id=connection_id,
        tenant_id=tenant_id,
        username=username,
        permissions=permissions,
        token_expires_at=token_expires_at,
        connected_at=now,
        expires_at=min(token_expires_at, now + max_lifetime),
    )
    connections.put(connection)
    get_logger().info(
        "connected",
        extra={
            "connection_id": connection_id,
            "tenant_id": tenant_id,
            "username": username,
            "by": "ticket" if ticket else "token",
        },
    )
    return connection


def _from_ticket(tickets: Tickets, ticket: str, now: int) -> tuple[str, str, frozenset[str], int]:
    grant = tickets.consume(tokens.ticket_digest(ticket))
    # DynamoDB deletes expired items lazily: a ticket past its TTL is refused even if still stored.
    if grant is None or int(grant.get("expires_at", 0)) <= now:
        raise AuthenticationError(INVALID_CREDENTIAL)
    try:
        return (
            str(grant["username"]),
            str(grant["tenant_id"]),
            frozenset(str(p) for p in grant["permissions"]),
            int(grant["token_expires_at"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AuthenticationError(INVALID_CREDENTIAL) from exc


def disconnect(connections: Connections, connection_id: str) -> None:
    """Forget the connection and all its subscriptions (idempotent)."""
    gone = connections.remove(connection_id)
    get_logger().info(
        "disconnected", extra={"connection_id": connection_id, "tenant_id": gone.tenant_id if gone else None}
    )
