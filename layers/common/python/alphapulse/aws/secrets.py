"""Secrets through the AWS Parameters and Secrets Lambda Extension (a local HTTP call).

The extension caches secrets and spares the function an SDK client: fetching the signing key
costs one loopback request instead of importing botocore (see docs/decisions.md). It only
answers during an invocation, so this is called lazily, never at init.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from urllib.parse import quote

TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 (a header name)
_ATTEMPTS = 3


class SecretUnavailableError(RuntimeError):
    """The secret could not be had (no session token, extension unreachable, refused or malformed answer)."""


def get_secret_string(secret_id: str, *, port: int) -> str:
    """The SecretString of `secret_id` (a name or ARN), from the extension listening on `port`."""
    token = os.environ.get("AWS_SESSION_TOKEN")
    if not token:
        raise SecretUnavailableError("AWS_SESSION_TOKEN is not set: the secrets extension cannot be called")
    path = f"/secretsmanager/get?secretId={quote(secret_id, safe='')}"
    for attempt in range(_ATTEMPTS):
        connection = http.client.HTTPConnection("localhost", port, timeout=3)
        try:
            connection.request("GET", path, headers={TOKEN_HEADER: token})
            response = connection.getresponse()
            body = response.read()
        except OSError as exc:  # the extension may still be starting
            if attempt == _ATTEMPTS - 1:
                raise SecretUnavailableError(f"secrets extension unreachable on port {port}") from exc
            time.sleep(0.05 * 2**attempt)
            continue
        finally:
            connection.close()
        if response.status != 200:
            raise SecretUnavailableError(f"secrets extension answered {response.status} for the signing secret")
        secret = json.loads(body).get("SecretString")
        if not isinstance(secret, str):
            raise SecretUnavailableError("the secret has no SecretString")
        return secret
    raise SecretUnavailableError("secrets extension unreachable")  # not reached; keeps type checkers sure
