"""Secrets Manager's `GetSecretValue`, with our own SigV4 client (a JSON-protocol call like DynamoDB's).

No extension layer and no botocore: the call is signed with the function's role credentials (long-term
keys work too), and it honours `AWS_ENDPOINT_URL_SECRETSMANAGER` / `AWS_ENDPOINT_URL`, so `sam local
invoke` and the local stack reach their own Secrets Manager (docs/decisions.md). The caller caches the
value with a TTL.
"""

from __future__ import annotations

import json
from functools import lru_cache

from alphapulse.aws.sigv4 import JsonServiceClient, json_error_code

REQUEST_ATTEMPTS = 3
RETRYABLE_CODES = frozenset({"ThrottlingException", "InternalServiceError"})


class SecretUnavailableError(RuntimeError):
    """The secret could not be had (no credentials, unreachable, refused, or not a string)."""


class SecretsManagerClient(JsonServiceClient):
    SERVICE = "secretsmanager"

    @classmethod
    def unreachable(cls, message: str) -> Exception:
        return SecretUnavailableError(f"Secrets Manager unreachable: {message}")

    def get_secret_string(self, secret_id: str) -> str:
        """The SecretString of `secret_id` (a name or an ARN)."""
        body = json.dumps({"SecretId": secret_id}).encode()
        status, document = self._post("secretsmanager.GetSecretValue", body, attempts=REQUEST_ATTEMPTS,
                                      retryable_codes=RETRYABLE_CODES)  # fmt: skip
        if status >= 300:
            raise SecretUnavailableError(f"Secrets Manager answered {status} {json_error_code(document)}")
        secret = document.get("SecretString")
        if not isinstance(secret, str):
            raise SecretUnavailableError("the secret has no SecretString")
        return secret


@lru_cache(maxsize=1)
def client() -> SecretsManagerClient:
    """The process's client (region, endpoint and credentials from the standard AWS environment)."""
    return SecretsManagerClient.from_environment()


def get_secret_string(secret_id: str) -> str:
    """The SecretString of `secret_id`; SecretUnavailableError when it cannot be had."""
    return client().get_secret_string(secret_id)


def reset() -> None:
    """Forget the client (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
