"""JWT issuing and verification without FastAPI (the WebSocket functions must not import it: cold start).

HS256 only: the algorithm is pinned on decode, and every claim of DESIGN section 3 is required.
`alphapulse.web.security` adds the FastAPI dependencies on top of this module.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from typing import Any, Literal

import jwt
from pydantic import ValidationError

from alphapulse.auth.models import Principal, permissions_of
from alphapulse.core.config import get_settings, signing_key
from alphapulse.core.errors import AuthenticationError

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "tenant_id", "role", "permissions", "iat", "exp", "iss", "aud", "jti", "typ", "sid")
TokenType = Literal["access", "refresh"]
MAX_VERIFIED = 1024
_verified: OrderedDict[tuple[str, str], Principal] = OrderedDict()


def issue_token(
    *,
    typ: TokenType,
    username: str,
    tenant_id: str,
    role: str,
    session_id: str,
    now: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """A signed token and its claims."""
    settings = get_settings()
    issued_at = int(time.time()) if now is None else now
    lifetime = settings.access_token_ttl_seconds if typ == "access" else settings.refresh_token_ttl_seconds
    claims: dict[str, Any] = {
        "sub": username,
        "tenant_id": tenant_id,
        "role": role,
        "permissions": permissions_of(role),
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": uuid.uuid4().hex,
        "typ": typ,
        "sid": session_id,
    }
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM), claims


def decode_token(token: str, expected: TokenType) -> dict[str, Any]:
    """Verified claims of `token`, which must be of type `expected`; AuthenticationError otherwise."""
    return _verify(token, expected, signing_key())


def _verify(token: str, expected: TokenType, key: str) -> dict[str, Any]:
    settings = get_settings()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
        )
    except jwt.PyJWTError as exc:
        raise AuthenticationError("Invalid or expired token") from exc
    if claims.get("typ") != expected:
        raise AuthenticationError("Invalid or expired token")
    return claims


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The caller described by verified access-token claims."""
    try:
        return Principal(
            username=claims["sub"],
            tenant_id=claims["tenant_id"],
            role=claims["role"],
            permissions=claims["permissions"],
            token_id=claims["jti"],
            session_id=claims["sid"],
            expires_at=claims["exp"],
        )
    except (ValidationError, TypeError) as exc:
        raise AuthenticationError("Invalid or expired token") from exc


def verify_access_token(token: str) -> Principal:
    """The principal of a valid access token.

    A warm container sees the same token again and again, so principals are remembered (keyed
    by the exact token and key, at most MAX_VERIFIED) until their token expires.
    """
    key = signing_key()
    remembered = _verified.get((token, key))
    if remembered is not None and remembered.expires_at > time.time():
        _verified.move_to_end((token, key))
        return remembered
    principal = principal_from_claims(_verify(token, "access", key))
    _verified[(token, key)] = principal
    if len(_verified) > MAX_VERIFIED:
        _verified.popitem(last=False)
    return principal


def ticket_digest(ticket: str) -> str:
    """The stored form of a WebSocket ticket (only its SHA-256 is stored)."""
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()
