"""WebSocket $connect and $disconnect (DESIGN section 5, Connecting).

A connection presents exactly one credential in its query string: `ticket` (single use, from POST
/auth/ws-ticket; consumed with a conditional delete) or `token` (an access token). No credential,
both, or a bad one: 401. A valid credential that grants no channel at all: 403. Nothing is written
for a refused connection. The connection lives until `min(token expiry, connect + 2 h)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from alphapulse.auth.logic import tokens
from alphapulse.auth.logic.accounts import Tickets, redeem_ws_ticket
from alphapulse.core.errors import AuthenticationError, PermissionDeniedError
from alphapulse.core.observability import get_logger
from alphapulse.realtime.models import Connection
from alphapulse.realtime.protocol import CHANNEL_PERMISSIONS

INVALID_CREDENTIAL = "A valid ticket or access token is required"


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
        grant = redeem_ws_ticket(tickets, ticket, now=now)
        if grant is None:
            raise AuthenticationError(INVALID_CREDENTIAL)
        username, tenant_id = grant.username, grant.tenant_id
        permissions, token_expires_at = grant.permissions, grant.token_expires_at
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


def disconnect(connections: Connections, connection_id: str) -> None:
    """Forget the connection and all its subscriptions (idempotent)."""
    gone = connections.remove(connection_id)
    get_logger().info(
        "disconnected", extra={"connection_id": connection_id, "tenant_id": gone.tenant_id if gone else None}
    )
