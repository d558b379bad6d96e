"""SnapStart's hooks, run as Lambda's runtime runs them (every callable that `snapshot_restore_py` holds, in order):
before the snapshot, what init deferred is done; after a restore, each piece of state taken before the snapshot is
renewed; and every function registers them by importing its handler, as Lambda requires."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from snapshot_restore_py import get_after_restore  # type: ignore[import-untyped]

from alphapulse.aws import sdk
from alphapulse.aws.sigv4 import SignedEndpoint
from alphapulse.core.config import signing_key
from tests.conftest import in_function, reset_caches, template_functions

ROOT = Path(__file__).resolve().parents[3]


def restore() -> None:
    """What Lambda's runtime does when it resumes a function from its snapshot."""
    for hook, args, kwargs in get_after_restore():
        hook(*args, **kwargs)


class KeepAliveServer(ThreadingHTTPServer):
    """Answers every POST with 200 on HTTP/1.1 keep-alive connections, and counts the connections it accepted."""

    daemon_threads = True

    def __init__(self) -> None:
        self.accepted = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"] or 0))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self) -> Any:
        self.accepted += 1
        return super().get_request()


@pytest.fixture
def keep_alive_server() -> Iterator[KeepAliveServer]:
    server = KeepAliveServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _post(endpoint: SignedEndpoint) -> int:
    status, _, _ = endpoint.request("POST", "/", b"{}", {"content-type": "application/x-amz-json-1.0"})
    return status


def test_pooled_connections_are_dropped_in_every_thread(app_env: None, keep_alive_server: KeepAliveServer) -> None:
    url = f"http://127.0.0.1:{keep_alive_server.server_address[1]}"
    endpoint = SignedEndpoint(url, region="us-east-1", service="execute-api")
    worker = ThreadPoolExecutor(1)  # a pool thread, as the fan-out's, keeps a connection of its own
    for _ in range(3):
        assert _post(endpoint) == 200
        assert worker.submit(_post, endpoint).result() == 200
    assert keep_alive_server.accepted == 2  # one per thread, kept alive
    before = endpoint.connection()

    restore()

    for _ in range(3):
        assert _post(endpoint) == 200
        assert worker.submit(_post, endpoint).result() == 200
    assert keep_alive_server.accepted == 4  # each thread opened a new one, once
    assert before.sock is None  # and closed the old
    worker.shutdown()


def test_random_is_seeded_again() -> None:
    snapshot = random.getstate()  # two copies resumed from one snapshot share this state

    def first_draws(renew: bool) -> list[float]:
        random.setstate(snapshot)
        if renew:
            restore()
        return [random.random() for _ in range(4)]

    assert first_draws(renew=False) == first_draws(renew=False)  # what the copies would draw without the hook
    assert first_draws(renew=True) != first_draws(renew=True)


def test_default_credentials_are_looked_up_again(app_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = SignedEndpoint("http://127.0.0.1:9", region="us-east-1", service="dynamodb")
    assert endpoint.credentials().access_key == "testing"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDRESTORED")  # the credentials a resumed copy is given
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "restored-secret")
    assert endpoint.credentials().access_key == "testing"  # cached until a restore

    restore()

    assert endpoint.credentials() == ("AKIDRESTORED", "restored-secret", "testing")


def test_botocore_clients_are_made_again(app_env: None) -> None:
    before = sdk.client("sns")
    assert sdk.client("sns") is before
    restore()
    assert sdk.client("sns") is not before


def test_signing_key_is_fetched_again_though_its_deadline_holds(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    manager = boto3.client("secretsmanager", endpoint_url=moto_server, region_name="us-east-1")
    old, new = "k" * 48, "n" * 48
    arn = manager.create_secret(Name="JwtSecret", SecretString=old)["ARN"]
    monkeypatch.delenv("JWT_SECRET")
    monkeypatch.setenv("JWT_SECRET_ARN", arn)
    reset_caches()
    assert signing_key() == old
    manager.put_secret_value(SecretId=arn, SecretString=new)  # rotated while the snapshot waited
    # A resumed copy's monotonic clock starts again: a deadline taken before the snapshot looks far away.
    clock = time.monotonic() - 3600
    monkeypatch.setattr(time, "monotonic", lambda: clock)
    assert signing_key() == old

    restore()

    assert signing_key() == new


def _registered_by(function: Any) -> tuple[str, dict[str, list[str]]]:
    """The hooks registered, before the snapshot and after a restore, by importing one function's handler."""
    code = (
        "def names(hooks):\n"
        "    owners = [(getattr(h, '__self__', h), h.__name__) for h, _, _ in hooks]\n"
        "    return [f'{o.__module__}.{getattr(o, \"__qualname__\", type(o).__qualname__)}.{n}' for o, n in owners]\n"
        "print({'before': names(s.get_before_snapshot()), 'after': names(s.get_after_restore())})"
    )
    return function.logical_id, eval(in_function(function, code))  # noqa: S307 (what we printed)


def test_every_function_registers_the_hooks_by_importing_its_handler() -> None:
    with ThreadPoolExecutor(2) as pool:
        registered = dict(pool.map(_registered_by, template_functions()))
    assert len(registered) == 15
    for function, hooks in registered.items():
        assert {
            "random.Random.seed",
            "alphapulse.aws.sigv4.SignedEndpoint.renew",
            "alphapulse.aws.sigv4._signing_key.cache_clear",
            "alphapulse.core.config._SigningKey.cache_clear",
        } <= set(hooks["after"]), function
        assert hooks["before"] == ["alphapulse.core.inputs.build_imported_models.build_imported_models"], function


@pytest.mark.parametrize("code_uri", ["functions/ingest", "functions/trades"])
def test_before_the_snapshot_every_model_the_function_imported_is_built(code_uri: str) -> None:
    function = next(f for f in template_functions() if f.code_uri.rstrip("/") == code_uri)
    code = (
        "from alphapulse.core.inputs import imported_models\n"
        "deferred = [m.__qualname__ for m in imported_models() if not m.__pydantic_complete__]\n"
        "for hook, args, kwargs in s.get_before_snapshot(): hook(*args, **kwargs)\n"
        "print(len(deferred), [m.__qualname__ for m in imported_models() if not m.__pydantic_complete__])"
    )
    deferred, left = in_function(function, code).split(" ", 1)
    assert int(deferred) >= 10  # init built few of them (an event function none): the snapshot would miss them
    assert left.strip() == "[]"
