"""SigV4 verification of requests to the local stack, as API Gateway's management API checks them.

The expected signature is computed with the layer's own signer (alphapulse.aws.sigv4, itself tested against
botocore's) from the headers the caller says it signed, with the secret key the local stack knows for the
caller's access key. Answers as AWS words them: the error type for `x-amzn-errortype` and the message.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from alphapulse.aws.sigv4 import Credentials, sign

AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<day>\d{8})/(?P<region>[\w-]+)/(?P<service>[\w-]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
MAX_SKEW = timedelta(minutes=5)  # AWS refuses a request signed more than 5 minutes before or after now
ADDED_BY_SIGNER = ("host", "x-amz-date", "x-amz-security-token")  # `sign` adds these itself


def signature_problem(
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, str],
    *,
    now: datetime | None = None,
) -> tuple[str, str] | None:
    """None for a request signed by one of `keys` (access key -> secret key), else (error type, message)."""
    authorization = headers.get("Authorization", "")
    found = AUTHORIZATION.fullmatch(authorization.strip())
    if not authorization:
        return "MissingAuthenticationTokenException", "Missing Authentication Token"
    if found is None:
        return "IncompleteSignatureException", "Authorization header requires a valid AWS4-HMAC-SHA256 signature."
    secret = keys.get(found["key"])
    if secret is None:
        return "UnrecognizedClientException", "The security token included in the request is invalid."
    amz_date = headers.get("X-Amz-Date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "IncompleteSignatureException", "Authorization header requires existence of a valid X-Amz-Date."
    if abs((now or datetime.now(UTC)) - signed_at) > MAX_SKEW:
        return "InvalidSignatureException", f"Signature expired: {amz_date} is now earlier or later than 5 minutes."
    names = found["signed"].split(";")
    if "host" not in names or found["day"] != amz_date[:8]:
        return "IncompleteSignatureException", "The request signature does not cover the host, or its scope's date."
    expected = sign(
        method=method,
        host=headers.get("Host", ""),
        path=raw_path.split("?", 1)[0],
        headers={name: headers.get(name, "") for name in names if name not in ADDED_BY_SIGNER},
        body=body,
        credentials=Credentials(found["key"], secret, headers.get("X-Amz-Security-Token") or None),
        region=found["region"],
        service=found["service"],
        now=signed_at,
    )["authorization"]
    if not hmac.compare_digest(expected.rsplit("Signature=", 1)[1], found["signature"]):
        return "InvalidSignatureException", (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return None
