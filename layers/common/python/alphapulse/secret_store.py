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

from alphapulse.config import ConfigurationError, get_settings

TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 (a header name)
_ATTEMPTS = 3


def get_secret_string(secret_id: str) -> str:
    """The SecretString of `secret_id` (a name or ARN); ConfigurationError when it cannot be had."""
    port = get_settings().secrets_extension_port
    token = os.environ.get("AWS_SESSION_TOKEN")
    if not token:
        raise ConfigurationError("AWS_SESSION_TOKEN is not set: the secrets extension cannot be called")
    path = f"/secretsmanager/get?secretId={quote(secret_id, safe='')}"
    for attempt in range(_ATTEMPTS):
        connection = http.client.HTTPConnection("localhost", port, timeout=3)
        try:
            connection.request("GET", path, headers={TOKEN_HEADER: token})
            response = connection.getresponse()
            body = response.read()
        except OSError as exc:  # the extension may still be starting
            if attempt == _ATTEMPTS - 1:
                raise ConfigurationError(f"secrets extension unreachable on port {port}") from exc
            time.sleep(0.05 * 2**attempt)
            continue
        finally:
            connection.close()
        if response.status != 200:
            raise ConfigurationError(f"secrets extension answered {response.status} for the signing secret")
        secret = json.loads(body).get("SecretString")
        if not isinstance(secret, str):
            raise ConfigurationError("the secret has no SecretString")
        return secret
    raise ConfigurationError("secrets extension unreachable")  # not reached; keeps type checkers sure
