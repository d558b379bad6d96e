"""AWS Signature Version 4 and credentials, shared by our own small clients (DynamoDB, the WebSocket
management API), which exist so that cold starts do not pay for botocore (docs/decisions.md).

Signatures are checked against botocore's own signer in the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None


class NoCredentialsError(Exception):
    """Neither the environment nor botocore's credential chain holds credentials."""


def canonical_path(path: str) -> str:
    """The canonical URI of a request path as sent on the wire: every service but S3 encodes it once more."""
    return quote(path, safe="/~")


@lru_cache(maxsize=16)
def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    # Derived once per day, region and service: four HMACs fewer per request.
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign(
    *,
    method: str,
    host: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """The request's headers plus `x-amz-date`, the session token and the SigV4 `authorization`.

    `path` is the path as sent (percent-encoded already); requests carry no query string.
    """
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    signed_headers = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    signed_headers.update({"host": host, "x-amz-date": amz_date})
    if credentials.token:
        signed_headers["x-amz-security-token"] = credentials.token
    names = sorted(signed_headers)
    canonical_request = "\n".join(
        [
            method,
            canonical_path(path),
            "",
            *(f"{name}:{signed_headers[name]}" for name in names),
            "",
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _signing_key(credentials.secret_key, amz_date[:8], region, service)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    signed_headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed_headers


def environment_credentials() -> Credentials | None:
    """Credentials from the standard environment variables, or None."""
    access_key, secret_key = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if access_key and secret_key:
        return Credentials(access_key, secret_key, os.environ.get("AWS_SESSION_TOKEN") or None)
    return None


def botocore_credentials() -> Callable[[], Credentials]:
    """botocore's credential chain (profiles, SSO, instance roles), refreshed as botocore refreshes it."""
    import botocore.session

    resolved = botocore.session.get_session().get_credentials()
    if resolved is None:
        raise NoCredentialsError("no AWS credentials found")

    def current() -> Credentials:
        frozen = resolved.get_frozen_credentials()
        return Credentials(str(frozen.access_key), str(frozen.secret_key), frozen.token)

    return current


def default_credentials() -> Callable[[], Credentials]:
    """The environment's credentials (always set in Lambda), else botocore's chain (a person with a profile)."""
    found = environment_credentials()
    return (lambda: found) if found else botocore_credentials()
