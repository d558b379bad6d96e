"""The users command: create, set-role, disable, enable, set-password, show, list."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from alphapulse.auth.cli import main
from tests.conftest import ROOT


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["--table", "AuthTable", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_users_cli_lifecycle(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(
        capsys, monkeypatch, "create", "--username", "bob", "--tenant", "acme", "--role", "viewer", "--password-stdin",
        stdin="bob-long-password\n",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out) == {
        "username": "bob", "tenant_id": "acme", "role": "viewer",
        "permissions": ["view_metrics", "view_portfolio", "view_trades"],
    }  # fmt: skip
    assert "bob-long-password" not in out

    code, out, _ = run(capsys, monkeypatch, "set-role", "--username", "bob", "--role", "trader")
    assert code == 0 and json.loads(out)["role"] == "trader"

    code, out, _ = run(capsys, monkeypatch, "disable", "--username", "bob")
    assert code == 0
    code, out, _ = run(capsys, monkeypatch, "list", "--tenant", "acme")
    assert [(u["username"], u["disabled"]) for u in json.loads(out)] == [("bob", True)]
    code, out, _ = run(capsys, monkeypatch, "enable", "--username", "bob")
    code, out, _ = run(capsys, monkeypatch, "list", "--tenant", "acme")
    assert json.loads(out)[0]["disabled"] is False
    code, out, _ = run(capsys, monkeypatch, "list", "--tenant", "default")
    assert json.loads(out) == []

    code, _, _ = run(
        capsys,
        monkeypatch,
        "set-password",
        "--username",
        "bob",
        "--password-stdin",
        stdin="a-new-long-password\n",
    )
    assert code == 0
    from alphapulse.auth.logic.passwords import verify_password
    from alphapulse.auth.wiring import stores_of

    stored = stores_of("AuthTable").users.get("bob")
    assert stored is not None and verify_password("a-new-long-password", stored.password_hash)
    assert "a-new-long-password" not in stored.password_hash


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["create", "--username", "bad#name", "--tenant", "acme", "--role", "viewer", "--password-stdin"],
            "long-enough-pass\n",
            "username",
        ),
        (
            ["create", "--username", "bob", "--tenant", "Acme!", "--role", "viewer", "--password-stdin"],
            "long-enough-pass\n",
            "tenant_id",
        ),
        (
            ["create", "--username", "bob", "--tenant", "acme", "--role", "viewer", "--password-stdin"],
            "short\n",
            "12 characters",
        ),
        (["set-role", "--username", "nobody", "--role", "admin"], "", "not found"),
        (["disable", "--username", "nobody"], "", "not found"),
        (["show", "--username", "nobody"], "", "not found"),
    ],
)
def test_users_cli_refuses_bad_commands(
    aws: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    code, out, err = run(capsys, monkeypatch, *args, stdin=stdin)
    assert code == 1
    assert message in err
    assert out == ""


def test_users_cli_duplicate_username_refused(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["create", "--username", "bob", "--tenant", "acme", "--role", "viewer", "--password-stdin"]
    assert run(capsys, monkeypatch, *args, stdin="long-enough-pass\n")[0] == 0
    code, _, err = run(capsys, monkeypatch, *args, stdin="long-enough-pass\n")
    assert code == 1 and "already exists" in err


@pytest.fixture
def moto_endpoint(moto_server: str) -> str:
    import boto3

    from devstack.template.load import create_tables, load_template

    create_tables(boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1"), load_template())
    return moto_server


def test_users_cli_against_a_real_endpoint(moto_endpoint: str) -> None:
    command = [
        sys.executable,
        "-m",
        "alphapulse.auth.cli",
        "--endpoint-url",
        moto_endpoint,
        "--table",
        "AuthTable",
        "--audit-table",
        "DataTable",
    ]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers/common/python"), "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    created = subprocess.run(
        [*command, "create", "--username", "carol", "--tenant", "default", "--role", "admin", "--password-stdin"],
        input="carol-long-password\n", capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    listed = subprocess.run(
        [*command, "list", "--tenant", "default"], capture_output=True, text=True, env=env, check=False
    )
    assert [user["username"] for user in json.loads(listed.stdout)] == ["carol"]


def test_users_cli_local_endpoint_needs_no_credentials(moto_endpoint: str) -> None:
    # A newcomer following the README has no AWS credentials at all.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers/common/python"), "HOME": "/nonexistent"}
    listed = subprocess.run(
        [sys.executable, "-m", "alphapulse.auth.cli", "--endpoint-url", moto_endpoint, "--table", "AuthTable",
         "list", "--tenant", "default"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_a_change_without_the_audit_table_is_refused_before_anything_is_written(moto_endpoint: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers/common/python"), "HOME": "/nonexistent"}
    base = [sys.executable, "-m", "alphapulse.auth.cli", "--endpoint-url", moto_endpoint, "--table", "AuthTable"]
    created = subprocess.run(
        [*base, "create", "--username", "dave", "--tenant", "default", "--role", "viewer", "--password-stdin"],
        input="dave-long-password\n", capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert created.returncode == 2
    assert "--audit-table" in created.stderr
    listing = [*base, "list", "--tenant", "default"]
    listed = subprocess.run(listing, capture_output=True, text=True, env=env, check=False)
    assert listed.returncode == 0, listed.stderr  # reading needs no audit table
    assert json.loads(listed.stdout) == []
