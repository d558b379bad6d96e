"""The signing key from Secrets Manager (moto server), through our own SigV4 client, kept with a TTL."""

from __future__ import annotations

import secrets

import pytest

from alphapulse.aws import secrets as secrets_manager
from alphapulse.aws.secrets import SecretUnavailableError, get_secret_string
from alphapulse.core.config import ConfigurationError, prefetch_signing_key, signing_key
from devstack.ports import free_port
from tests.conftest import reset_caches

KEY = secrets.token_urlsafe(48)


def boto3_secrets(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def secret_arn(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    arn = str(boto3_secrets(moto_server).create_secret(Name="JwtSecret", SecretString=KEY)["ARN"])
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.delenv("JWT_SECRET")
    monkeypatch.setenv("JWT_SECRET_ARN", arn)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)  # long-term keys: no session token needed
    reset_caches()
    return arn


def point_secrets_manager_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETSMANAGER", url)
    secrets_manager.reset()


def test_signing_key_comes_from_secrets_manager(secret_arn: str) -> None:
    from alphapulse.auth.logic.tokens import issue_token, verify_access_token

    assert signing_key() == KEY
    token, _ = issue_token(typ="access", username="u", tenant_id="default", role="viewer", session_id="s")
    assert verify_access_token(token).username == "u"


def test_the_service_endpoint_wins_over_the_general_one(
    secret_arn: str, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    point_secrets_manager_at(moto_server, monkeypatch)
    assert get_secret_string(secret_arn) == KEY


def test_unknown_secret_is_refused(secret_arn: str) -> None:
    with pytest.raises(SecretUnavailableError, match=r"answered 4\d\d ResourceNotFoundException"):
        get_secret_string("arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf")


def test_unreachable_secrets_manager_is_reported(secret_arn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    point_secrets_manager_at(f"http://127.0.0.1:{free_port()}", monkeypatch)
    with pytest.raises(SecretUnavailableError, match="unreachable"):
        get_secret_string(secret_arn)
    with pytest.raises(ConfigurationError, match="unreachable"):
        signing_key()


def test_short_secret_is_refused(secret_arn: str, moto_server: str) -> None:
    boto3_secrets(moto_server).put_secret_value(SecretId=secret_arn, SecretString="short")
    with pytest.raises(ConfigurationError, match="shorter than 32"):
        signing_key()


def test_the_key_is_kept_for_its_ttl_then_read_again(
    secret_arn: str, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert signing_key() == KEY
    rotated = secrets.token_urlsafe(48)
    boto3_secrets(moto_server).put_secret_value(SecretId=secret_arn, SecretString=rotated)
    assert signing_key() == KEY  # within SECRETS_MANAGER_TTL (300 s by default)

    monkeypatch.setenv("SECRETS_MANAGER_TTL", "0")
    reset_caches()
    assert signing_key() == rotated


def test_a_known_key_outlives_an_outage(secret_arn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_MANAGER_TTL", "0")
    reset_caches()
    assert signing_key() == KEY
    point_secrets_manager_at(f"http://127.0.0.1:{free_port()}", monkeypatch)
    assert signing_key() == KEY  # stale, and asked for again after RETRY_SECONDS


def test_auth_function_answers_500_when_the_key_is_unavailable(
    secret_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import RestClient

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETSMANAGER", f"http://127.0.0.1:{free_port()}")
    reply = RestClient("functions/auth", "auth").request("GET", "/api/v1/auth/me", token="x.y.z")
    assert reply.status == 500
    assert reply.json() == {"detail": "Internal Server Error"}


def test_lambda_init_fetches_the_key_ahead_of_the_first_request(
    secret_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []
    monkeypatch.setattr("alphapulse.core.config.get_secret_string", lambda arn: fetched.append(arn) or KEY)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")

    thread = prefetch_signing_key()
    assert thread is not None
    thread.join(timeout=10)

    assert fetched == [secret_arn]
    assert signing_key() == KEY and fetched == [secret_arn]  # the first request found it


@pytest.mark.parametrize("initialisation", [None, "snap-start"])
def test_outside_lambda_and_for_a_snapshot_nothing_is_fetched_at_init(
    secret_arn: str, monkeypatch: pytest.MonkeyPatch, initialisation: str | None
) -> None:
    if initialisation is None:
        monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    else:
        monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", initialisation)

    assert prefetch_signing_key() is None


def test_a_failed_fetch_at_init_is_met_by_the_first_request(secret_arn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    point_secrets_manager_at(f"http://127.0.0.1:{free_port()}", monkeypatch)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")

    thread = prefetch_signing_key()
    assert thread is not None
    thread.join(timeout=30)

    with pytest.raises(ConfigurationError, match="unreachable"):
        signing_key()
