"""Every forged, stale or misused token is answered 401 on a protected route."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import TEST_SECRET, RestClient, token_claims


def claims(**overrides: Any) -> dict[str, Any]:
    return token_claims(**{"permissions": ["view_metrics", "view_trades"], **overrides})


def sign(payload: dict[str, Any], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(payload).encode())}."


def rs256(payload: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return jwt.encode(payload, pem, algorithm="RS256")


def tampered() -> str:
    header, payload, signature = sign(claims()).split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    body["role"], body["permissions"] = "admin", ["manage_users"]
    return f"{header}.{b64(json.dumps(body).encode())}.{signature}"


def hs256_with_public_key_confusion() -> str:
    # The classic confusion: an HS256 token whose header claims RS256.
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims()).encode())
    import hashlib
    import hmac

    signature = hmac.new(TEST_SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


ATTACKS = {
    "alg_none": lambda: unsigned(claims()),
    "alg_none_uppercase": lambda: unsigned(claims()).replace("bm9uZ", "Tk9OR"),
    "wrong_secret": lambda: sign(claims(), key="another-secret-that-is-long-enough-0123456789"),
    "rs256": lambda: rs256(claims()),
    "hs384_same_secret": lambda: sign(claims(), algorithm="HS384"),
    "hs512_same_secret": lambda: sign(claims(), algorithm="HS512"),
    "alg_header_lies": hs256_with_public_key_confusion,
    "expired": lambda: sign(claims(iat=int(time.time()) - 2000, exp=int(time.time()) - 1000)),
    "nbf_future": lambda: sign(claims(nbf=int(time.time()) + 600)),
    "iat_future": lambda: sign(claims(iat=int(time.time()) + 600, exp=int(time.time()) + 1500)),
    "wrong_iss": lambda: sign(claims(iss="evil")),
    "wrong_aud": lambda: sign(claims(aud="other-app")),
    "aud_list_with_ours": lambda: sign(claims(aud=["alphapulse-dashboard", "other"])),
    "refresh_as_access": lambda: sign(claims(typ="refresh")),
    "typ_missing_value": lambda: sign(claims(typ="")),
    "tampered_payload": tampered,
    "garbage": lambda: "not-a-token",
    "garbage_three_parts": lambda: "a.b.c",
    "empty_signature": lambda: sign(claims()).rsplit(".", 1)[0] + ".",
    "unknown_role": lambda: sign(claims(role="root")),
    "permissions_not_list": lambda: sign(claims(permissions="view_metrics")),
    "tenant_not_string": lambda: sign(claims(tenant_id=["default"])),
    "exp_not_number": lambda: sign(claims(exp="tomorrow")),
    "unicode_garbage": lambda: "ëÿJ.ü.ñ",
}
REQUIRED = ["sub", "tenant_id", "role", "permissions", "iat", "exp", "iss", "aud", "jti", "typ", "sid"]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_me_forged_or_misused_token_401(auth_api: RestClient, attack: str) -> None:
    reply = auth_api.request("GET", "/api/v1/auth/me", token=ATTACKS[attack]())
    assert reply.status == 401, reply.body
    assert reply.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("missing", REQUIRED)
def test_me_token_missing_claim_401(auth_api: RestClient, missing: str) -> None:
    reply = auth_api.request("GET", "/api/v1/auth/me", token=sign(claims(**{missing: None})))
    assert reply.status == 401


def test_me_valid_handmade_token_200(auth_api: RestClient) -> None:
    # The same construction as the attacks, unaltered, is accepted: the attacks fail for their flaw.
    reply = auth_api.request("GET", "/api/v1/auth/me", token=sign(claims()))
    assert reply.status == 200
    assert reply.json()["username"] == "trader"


def test_access_token_as_refresh_token_401(auth_api: RestClient) -> None:
    reply = auth_api.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": sign(claims(typ="access"))})
    assert reply.status == 401


@pytest.mark.parametrize("scheme", ["Basic", "Token", ""])
def test_me_wrong_auth_scheme_401(auth_api: RestClient, scheme: str) -> None:
    reply = auth_api.request("GET", "/api/v1/auth/me", headers={"Authorization": f"{scheme} {sign(claims())}".strip()})
    assert reply.status == 401


def test_me_without_token_401(auth_api: RestClient) -> None:
    assert auth_api.request("GET", "/api/v1/auth/me").status == 401
