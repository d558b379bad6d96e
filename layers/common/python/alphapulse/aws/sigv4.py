"""AWS Signature Version 4, credentials and the request loop, shared by our own small clients (DynamoDB,
SQS, SNS, Secrets Manager, the WebSocket management API), which exist so that cold starts do not pay for
botocore (docs/decisions.md).

Signatures are checked against botocore's own signer in the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import Message
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple, Self
from urllib.parse import quote, urlsplit

from alphapulse.aws.snapstart import after_restore

JSON_CONTENT_TYPE = "application/x-amz-json-1.0"


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


after_restore(_signing_key.cache_clear)


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


def environment_region_and_endpoint(service: str) -> tuple[str | None, str | None]:
    """The region and endpoint URL as botocore finds them in the environment (`AWS_ENDPOINT_URL_<SERVICE>`
    before `AWS_ENDPOINT_URL`; no endpoint: the service's public one)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return region, os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")


def json_error_code(document: dict[str, Any]) -> str:
    """The error code of a JSON-protocol error answer (`__type`, without its namespace)."""
    return str(document.get("__type", "UnknownError")).rsplit("#", 1)[-1]


def full_jitter(attempt: int, *, base: float = 0.05, sleep: Callable[[float], None] = time.sleep) -> None:
    """Wait before retry `attempt` (1, 2, ...): up to 50 ms, 100 ms, ... (botocore's standard retry mode)."""
    sleep(random.uniform(0, base * 2 ** (attempt - 1)))  # noqa: S311 (jitter, not security)


class SignedEndpoint:
    """One AWS endpoint: requests signed with SigV4, one keep-alive connection per thread (thread-safe).

    After a SnapStart restore (`renew`), every thread opens a new connection and the default credentials are
    looked up again."""

    generation: ClassVar[int] = 0  # restores so far: connections and credentials of an older one are renewed

    def __init__(
        self,
        url: str,
        *,
        region: str,
        service: str,
        credentials: Callable[[], Credentials] | None = None,
        timeout: float = 5.0,
    ) -> None:
        parts = urlsplit(url)
        self.region, self.service = region, service
        self.base_path = parts.path.rstrip("/")  # e.g. the stage of an execute-api endpoint
        self._secure = parts.scheme in ("https", "wss")
        self._host = parts.netloc
        self._hostname = parts.hostname or parts.netloc
        self._port = parts.port
        self._credentials = credentials
        self._default: tuple[int, Callable[[], Credentials]] | None = None  # (generation, the chain)
        self._timeout = timeout
        self._local = threading.local()

    @classmethod
    def renew(cls) -> None:
        """Forget every endpoint's connections and default credentials (run after a SnapStart restore)."""
        cls.generation += 1

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, Message]:
        """Sign and send one request: (status, body, response headers).

        Raises NoCredentialsError, or OSError / HTTPException after dropping the broken connection.
        """
        signed = sign(method=method, host=self._host, path=path, headers=headers, body=body,
                      credentials=self.credentials(), region=self.region, service=self.service,
                      now=datetime.now(UTC))  # fmt: skip
        connection = self.connection()
        try:
            connection.request(method, path, body=body, headers=signed)
            response = connection.getresponse()
            return response.status, response.read(), response.headers
        except (OSError, http.client.HTTPException):
            self.drop_connection()
            raise

    def credentials(self) -> Credentials:
        if self._credentials is not None:
            return self._credentials()
        if self._default is None or self._default[0] != self.generation:
            self._default = (self.generation, default_credentials())
        return self._default[1]()

    def connection(self) -> http.client.HTTPConnection:
        """This thread's connection (opened on first use, and again after a restore)."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and self._local.generation != self.generation:
            connection.close()  # its peer is gone: the snapshot was taken long ago
            connection = None
        if connection is None:
            kind = http.client.HTTPSConnection if self._secure else http.client.HTTPConnection
            connection = kind(self._hostname, self._port, timeout=self._timeout)
            self._local.connection, self._local.generation = connection, self.generation
        return connection

    def drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


after_restore(SignedEndpoint.renew)


class ServiceClient:
    """What our clients of AWS services share: the endpoint, found as botocore finds it, and the request loop.
    A subclass names its `SERVICE` and the error raised when the service cannot be reached."""

    SERVICE: ClassVar[str]

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        credentials: Callable[[], Credentials] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.region = region
        url = endpoint_url or f"https://{self.SERVICE}.{region}.amazonaws.com"
        self._endpoint = SignedEndpoint(url, region=region, service=self.SERVICE, credentials=credentials,
                                        timeout=timeout)  # fmt: skip

    @classmethod
    def from_environment(cls) -> Self:
        """Region, endpoint and credentials as botocore would find them in the environment."""
        region, endpoint = environment_region_and_endpoint(cls.SERVICE)
        if not region:
            raise cls.unreachable("AWS_REGION is not set")
        return cls(region=region, endpoint_url=endpoint)

    @classmethod
    def unreachable(cls, message: str) -> Exception:
        """The error for a service that cannot be reached (no region, no credentials, retries exhausted)."""
        raise NotImplementedError

    def _exchange(
        self,
        operation: str,
        body: bytes,
        headers: dict[str, str],
        *,
        decode: Callable[[bytes], tuple[dict[str, Any], str]],
        attempts: int,
        retryable_codes: frozenset[str],
        intact: Callable[[bytes, Message], bool] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """POST one request: (status, answer). `decode` turns a payload into (answer, error code). Broken
        connections, answers that are not `intact`, server errors and `retryable_codes` are retried with full
        jitter; after the last attempt the answer is returned, or `unreachable` raised (at once without
        credentials)."""
        for attempt in range(1, attempts + 1):
            try:
                status, payload, response_headers = self._endpoint.request("POST", "/", body, headers)
                if intact is not None and not intact(payload, response_headers):
                    self._endpoint.drop_connection()
                    raise http.client.HTTPException("response failed its CRC32 check")
            except NoCredentialsError as exc:
                raise self.unreachable(str(exc)) from exc
            except (OSError, http.client.HTTPException) as exc:
                if attempt == attempts:
                    raise self.unreachable(f"{operation}: {exc}") from exc
                full_jitter(attempt)
                continue
            document, code = decode(payload)
            retryable = status >= 500 or (status >= 300 and code in retryable_codes)
            if not retryable or attempt == attempts:
                return status, document
            full_jitter(attempt)
        raise AssertionError("not reached")


def _json_answer(payload: bytes) -> tuple[dict[str, Any], str]:
    document: dict[str, Any] = json.loads(payload) if payload else {}
    return document, json_error_code(document)


class JsonServiceClient(ServiceClient):
    """A client of an AWS JSON-protocol service (DynamoDB, SQS, Secrets Manager)."""

    def _post(
        self,
        target: str,
        body: bytes,
        *,
        attempts: int,
        retryable_codes: frozenset[str],
        intact: Callable[[bytes, Message], bool] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """POST one request (`X-Amz-Target: target`): (status, answer), retried as `_exchange` says."""
        headers = {"content-type": JSON_CONTENT_TYPE, "x-amz-target": target}
        return self._exchange(target.rsplit(".", 1)[-1], body, headers, decode=_json_answer, attempts=attempts,
                              retryable_codes=retryable_codes, intact=intact)  # fmt: skip
