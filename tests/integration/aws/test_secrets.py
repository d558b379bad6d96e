"""The signing key through the Parameters and Secrets extension (our stand-in, backed by moto server)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from alphapulse.aws.secrets import SecretUnavailableError
from alphapulse.core.config import ConfigurationError
from devstack.secrets_extension import SecretsExtension
from tests.conftest import reset_caches

KEY = secrets.token_urlsafe(48)


@pytest.fixture
def extension(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SecretsExtension, str]]:
    import boto3

    endpoint = moto_server
    arn = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1").create_secret(
        Name="JwtSecret", SecretString=KEY
    )["ARN"]
    running = SecretsExtension(aws_endpoint=endpoint, session_token="session-token-1", region="us-east-1").start()
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.delenv("JWT_SECRET")
    monkeypatch.setenv("JWT_SECRET_ARN", arn)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-1")
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(running.port))
    reset_caches()
    try:
        yield running, arn
    finally:
        running.stop()


def test_signing_key_comes_from_the_extension(extension: tuple[SecretsExtension, str]) -> None:
    from alphapulse.auth.logic.tokens import issue_token, verify_access_token
    from alphapulse.core.config import signing_key

    assert signing_key() == KEY
    token, _ = issue_token(typ="access", username="u", tenant_id="default", role="viewer", session_id="s")
    assert verify_access_token(token).username == "u"


def test_wrong_session_token_is_refused(
    extension: tuple[SecretsExtension, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphapulse.aws.secrets import get_secret_string

    port = extension[0].port

    monkeypatch.setenv("AWS_SESSION_TOKEN", "someone-else")
    with pytest.raises(SecretUnavailableError, match="401"):
        get_secret_string(extension[1], port=port)


def test_unknown_secret_is_refused(extension: tuple[SecretsExtension, str]) -> None:
    from alphapulse.aws.secrets import get_secret_string

    port = extension[0].port

    with pytest.raises(SecretUnavailableError, match="answered 4"):
        get_secret_string("arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf", port=port)


def test_extension_down_is_reported(extension: tuple[SecretsExtension, str]) -> None:
    from alphapulse.aws.secrets import get_secret_string

    port = extension[0].port

    extension[0].stop()
    with pytest.raises(SecretUnavailableError, match="unreachable"):
        get_secret_string(extension[1], port=port)


def test_missing_session_token_is_refused(
    extension: tuple[SecretsExtension, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphapulse.aws.secrets import get_secret_string

    port = extension[0].port

    monkeypatch.delenv("AWS_SESSION_TOKEN")
    with pytest.raises(SecretUnavailableError, match="AWS_SESSION_TOKEN"):
        get_secret_string(extension[1], port=port)


def test_short_secret_is_refused(extension: tuple[SecretsExtension, str]) -> None:
    import boto3

    from alphapulse.core.config import signing_key

    endpoint = extension[0]._secrets.meta.endpoint_url
    boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1").put_secret_value(
        SecretId=extension[1], SecretString="short"
    )
    with pytest.raises(ConfigurationError, match="shorter than 32"):
        signing_key()


def test_auth_function_answers_500_when_the_key_is_unavailable(
    extension: tuple[SecretsExtension, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import RestClient

    monkeypatch.setenv("AWS_SESSION_TOKEN", "someone-else")
    reply = RestClient("functions/auth", "auth").request("GET", "/api/v1/auth/me", token="x.y.z")
    assert reply.status == 500
    assert reply.json() == {"detail": "Internal Server Error"}


def test_signing_key_unavailable_is_a_configuration_error(extension: tuple[SecretsExtension, str]) -> None:
    from alphapulse.core.config import signing_key

    extension[0].stop()
    with pytest.raises(ConfigurationError, match="unreachable"):
        signing_key()
