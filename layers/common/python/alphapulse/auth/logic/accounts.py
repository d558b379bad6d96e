"""Auth logic: login, refresh rotation with reuse detection, logout, WebSocket tickets, users.

Repositories come in as parameters (Protocols), so the rules can be tested with fakes.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from alphapulse.audit.logic import AuditTrail
from alphapulse.auth.logic import tokens
from alphapulse.auth.logic.passwords import dummy_hash, hash_password, verify_password
from alphapulse.auth.logic.tokens import ticket_digest
from alphapulse.auth.models import (
    ROLES,
    USERNAME_PATTERN,
    LoginRequest,
    Principal,
    TicketGrant,
    TokenResponse,
    User,
    UserPublic,
    WsTicketResponse,
    permissions_of,
)
from alphapulse.core import keys
from alphapulse.core.config import get_settings
from alphapulse.core.errors import AuthenticationError, BadRequestError, NotFoundError, ThrottledError
from alphapulse.core.observability import count, get_logger
from alphapulse.core.times import iso

INVALID_CREDENTIALS = "Incorrect username or password"
INVALID_REFRESH = "Invalid or expired refresh token"
INVALID_USERNAME = "(not a username)"
_USERNAME = re.compile(USERNAME_PATTERN)


class Users(Protocol):
    def get(self, username: str) -> User | None: ...
    def create(self, user: User) -> None: ...
    def update(self, username: str, *, updated_at: str, **changes: Any) -> User: ...
    def list_tenant(self, tenant_id: str) -> list[User]: ...


class Sessions(Protocol):
    def start(self, session_id: str, *, username: str, tenant_id: str, jti: str, now: int, expires_at: int) -> None: ...
    def get(self, session_id: str) -> dict[str, Any] | None: ...
    def rotate(self, session_id: str, *, old_jti: str, new_jti: str, expires_at: int) -> bool: ...
    def revoke(self, session_id: str) -> None: ...


class Tickets(Protocol):
    def put(self, digest: str, grant: dict[str, Any], *, expires_at: int) -> None: ...
    def consume(self, digest: str) -> dict[str, Any] | None: ...


class LoginAttempts(Protocol):
    def reserve(self, username: str, *, now: int, window: int, limit: int) -> tuple[bool, int]: ...
    def clear(self, username: str) -> None: ...


@dataclass(frozen=True)
class AuthStores:
    users: Users
    sessions: Sessions
    tickets: Tickets
    attempts: LoginAttempts


def _now() -> int:
    return int(time.time())


def _iso(epoch: int) -> str:
    return iso(datetime.fromtimestamp(epoch, UTC))


def _public(user: User) -> UserPublic:
    return UserPublic(
        username=user.username,
        tenant_id=user.tenant_id,
        role=user.role,
        permissions=permissions_of(user.role),
    )


def _token_pair(user: User, session_id: str, *, now: int) -> tuple[TokenResponse, str]:
    (access, _), (refresh, refresh_claims) = (
        tokens.issue_token(
            typ=typ, username=user.username, tenant_id=user.tenant_id, role=user.role, session_id=session_id, now=now
        )
        for typ in ("access", "refresh")
    )
    response = TokenResponse(
        access_token=access,
        expires_in=get_settings().access_token_ttl_seconds,
        refresh_token=refresh,
        user=_public(user),
    )
    return response, str(refresh_claims["jti"])


def login(stores: AuthStores, request: LoginRequest, trail: AuditTrail) -> TokenResponse:
    """Check credentials and start a refresh family. Throttles a username after repeated failures: each
    attempt is counted before its password is checked (atomically), and a successful login clears the count.
    Every attempt is audited: throttled, failed or successful."""
    settings = get_settings()
    now = _now()
    allowed, window_end = stores.attempts.reserve(
        request.username, now=now, window=settings.login_window_seconds, limit=settings.login_max_failures
    )
    user = stores.users.get(request.username) if _plausible_username(request.username) else None
    if not allowed:
        count("LoginThrottled")
        trail.record(_attempted_tenant(user, request), _attempted_name(request), "auth.login_throttled")
        raise ThrottledError("Too many failed login attempts", retry_after=window_end - now)

    password_ok = verify_password(request.password, user.password_hash if user else dummy_hash())
    tenant_ok = request.tenant_id is None or (user is not None and request.tenant_id == user.tenant_id)
    if user is None or user.disabled or not password_ok or not tenant_ok:
        count("LoginFailed")
        get_logger().info("login failed", extra={"username": request.username[:64]})
        trail.record(_attempted_tenant(user, request), _attempted_name(request), "auth.login_failed")
        raise AuthenticationError(INVALID_CREDENTIALS)

    stores.attempts.clear(request.username)
    session_id = uuid.uuid4().hex
    response, jti = _token_pair(user, session_id, now=now)
    stores.sessions.start(
        session_id,
        username=user.username,
        tenant_id=user.tenant_id,
        jti=jti,
        now=now,
        expires_at=now + settings.refresh_token_ttl_seconds,
    )
    count("LoginSucceeded")
    get_logger().info("login", extra={"username": user.username, "tenant_id": user.tenant_id})
    trail.record(user.tenant_id, user.username, "auth.login", target=f"session:{session_id}")
    return response


def _attempted_tenant(user: User | None, request: LoginRequest) -> str:
    """Whose audit log a refused login goes to: the user's tenant, else the one the request named (if it is a
    tenant id at all), else the default tenant."""
    if user is not None:
        return user.tenant_id
    if request.tenant_id is not None and keys.valid_tenant_id(request.tenant_id):
        return request.tenant_id
    return keys.DEFAULT_TENANT


def _attempted_name(request: LoginRequest) -> str:
    """The actor of a refused login: the name tried, unless it cannot be a username (someone who typed their
    password into the wrong field must not find it in the audit log)."""
    return request.username if _plausible_username(request.username) else INVALID_USERNAME


def refresh(stores: AuthStores, refresh_token: str, trail: AuditTrail) -> TokenResponse:
    """Rotate a refresh token. Presenting one that was already rotated revokes the whole family."""
    claims = tokens.decode_token(refresh_token, "refresh")
    session_id, jti = str(claims["sid"]), str(claims["jti"])
    session = stores.sessions.get(session_id)
    if session is None or session.get("revoked"):
        raise AuthenticationError(INVALID_REFRESH)
    if session.get("current_jti") != jti:
        _revoke_on_reuse(stores, session_id, claims, trail)
    user = stores.users.get(str(claims["sub"]))
    if user is None or user.disabled or user.tenant_id != claims["tenant_id"]:
        stores.sessions.revoke(session_id)
        raise AuthenticationError(INVALID_REFRESH)

    now = _now()
    response, new_jti = _token_pair(user, session_id, now=now)
    expires_at = now + get_settings().refresh_token_ttl_seconds
    if not stores.sessions.rotate(session_id, old_jti=jti, new_jti=new_jti, expires_at=expires_at):
        # Another request rotated this same token first: that is reuse too.
        _revoke_on_reuse(stores, session_id, claims, trail)
    return response


def _revoke_on_reuse(stores: AuthStores, session_id: str, claims: dict[str, Any], trail: AuditTrail) -> None:
    stores.sessions.revoke(session_id)
    count("RefreshReuseDetected")
    get_logger().warning(
        "refresh token reuse: session revoked",
        extra={"username": claims["sub"], "tenant_id": claims["tenant_id"], "session_id": session_id},
    )
    trail.record(str(claims["tenant_id"]), str(claims["sub"]), "auth.refresh_reuse", target=f"session:{session_id}")
    raise AuthenticationError(INVALID_REFRESH)


def logout(stores: AuthStores, principal: Principal, trail: AuditTrail) -> None:
    """Revoke the caller's refresh family (its access tokens lapse within their 15 minutes)."""
    stores.sessions.revoke(principal.session_id)
    get_logger().info("logout", extra={"username": principal.username, "tenant_id": principal.tenant_id})
    trail.record(principal.tenant_id, principal.username, "auth.logout", target=f"session:{principal.session_id}")


def issue_ws_ticket(stores: AuthStores, principal: Principal) -> WsTicketResponse:
    """A single-use ticket for the WebSocket `?ticket=` credential. Only its digest is stored."""
    settings = get_settings()
    now = _now()
    ttl = min(settings.ws_ticket_ttl_seconds, max(1, principal.expires_at - now))
    ticket = secrets.token_urlsafe(32)
    grant = {
        "username": principal.username,
        "tenant_id": principal.tenant_id,
        "role": principal.role,
        "permissions": sorted(principal.permissions),
        "token_expires_at": principal.expires_at,
        "issued_at": now,
    }
    stores.tickets.put(ticket_digest(ticket), grant, expires_at=now + ttl)
    return WsTicketResponse(ticket=ticket, expires_in=ttl)


def redeem_ws_ticket(tickets: Tickets, ticket: str, *, now: int) -> TicketGrant | None:
    """Consume a WebSocket ticket (single use): what it grants, or None when it was never issued, was used,
    has expired or is malformed."""
    grant = tickets.consume(ticket_digest(ticket))
    # DynamoDB deletes expired items lazily: a ticket past its TTL is refused even if still stored.
    if grant is None or int(grant.get("expires_at", 0)) <= now:
        return None
    try:
        return TicketGrant(
            username=str(grant["username"]),
            tenant_id=str(grant["tenant_id"]),
            permissions=frozenset(str(p) for p in grant["permissions"]),
            token_expires_at=int(grant["token_expires_at"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _plausible_username(username: str) -> bool:
    return _USERNAME.fullmatch(username) is not None


# --- user administration (the users command) ---


def create_user(stores: AuthStores, *, username: str, tenant_id: str, role: str, password: str) -> UserPublic:
    """Create a user with a freshly salted password hash."""
    if not _plausible_username(username):
        raise BadRequestError("username: 1-64 of letters, digits and . _ @ -, starting with a letter or digit")
    if not keys.valid_tenant_id(tenant_id):
        raise BadRequestError("tenant_id: lower-case letters, digits and '-', at most 63 characters")
    if role not in ROLES:
        raise BadRequestError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise BadRequestError("password must be at least 12 characters")
    now = _iso(_now())
    user = User(
        username=username,
        tenant_id=tenant_id,
        role=role,  # checked against ROLES above
        password_hash=hash_password(password),
        created_at=now,
        updated_at=now,
    )
    stores.users.create(user)
    return _public(user)


def set_role(stores: AuthStores, username: str, role: str) -> UserPublic:
    """Change a user's role (effective at their next login or refresh)."""
    if role not in ROLES:
        raise BadRequestError(f"role must be one of {', '.join(ROLES)}")
    return _public(stores.users.update(username, updated_at=_iso(_now()), role=role))


def set_disabled(stores: AuthStores, username: str, disabled: bool) -> UserPublic:
    """Disable or re-enable a user; a disabled user can neither log in nor refresh."""
    return _public(stores.users.update(username, updated_at=_iso(_now()), disabled=disabled))


def set_password(stores: AuthStores, username: str, password: str) -> UserPublic:
    """Replace a user's password."""
    if len(password) < 12:
        raise BadRequestError("password must be at least 12 characters")
    return _public(stores.users.update(username, updated_at=_iso(_now()), password_hash=hash_password(password)))


def list_users(stores: AuthStores, tenant_id: str) -> list[tuple[UserPublic, bool]]:
    """A tenant's users with their disabled flag."""
    return [(_public(user), user.disabled) for user in stores.users.list_tenant(tenant_id)]


def get_user(stores: AuthStores, username: str) -> UserPublic:
    user = stores.users.get(username)
    if user is None:
        raise NotFoundError(f"User {username!r} not found")
    return _public(user)
