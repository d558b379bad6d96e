"""Manage users: `python -m alphapulse.auth.cli create|set-role|disable|enable|set-password|list|show`.

Works against moto, the local stack or a deployed stack: pass --table, --audit-table and --endpoint-url, or
set AUTH_TABLE, DATA_TABLE and AWS_ENDPOINT_URL. Passwords are read from stdin or a prompt, never argv. Every
change is written to the tenant's audit log (the data table), with the operator as its actor.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import uuid
from collections.abc import Sequence

from alphapulse.audit.logic import AuditTrail
from alphapulse.audit.models import AuditAction
from alphapulse.audit.repositories import AuditRepository
from alphapulse.auth.logic import accounts
from alphapulse.auth.models import UserPublic
from alphapulse.auth.wiring import stores_of
from alphapulse.aws import dynamodb
from alphapulse.core.errors import AppError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alphapulse.auth.cli", description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=os.environ.get("AUTH_TABLE"), help="auth table (env AUTH_TABLE)")
    parser.add_argument("--audit-table", default=os.environ.get("DATA_TABLE"),
                        help="data table, where changes are audited (env DATA_TABLE)")  # fmt: skip
    parser.add_argument("--actor", default=None, help="who is making the change (default: cli:<your OS user>)")
    parser.add_argument("--endpoint-url", help="AWS endpoint, e.g. http://127.0.0.1:4566 (env AWS_ENDPOINT_URL)")
    parser.add_argument("--region", help="AWS region (env AWS_REGION or AWS_DEFAULT_REGION)")
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="create a user")
    create.add_argument("--username", required=True)
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", required=True, choices=["admin", "trader", "viewer"])
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    role = commands.add_parser("set-role", help="change a user's role")
    role.add_argument("--username", required=True)
    role.add_argument("--role", required=True, choices=["admin", "trader", "viewer"])

    for name in ("disable", "enable", "show"):
        commands.add_parser(name, help=f"{name} a user").add_argument("--username", required=True)

    password = commands.add_parser("set-password", help="replace a user's password")
    password.add_argument("--username", required=True)
    password.add_argument("--password-stdin", action="store_true")

    listing = commands.add_parser("list", help="list a tenant's users")
    listing.add_argument("--tenant", required=True)
    return parser


AUDITED: dict[str, AuditAction] = {
    "create": "user.create",
    "set-role": "user.set_role",
    "disable": "user.disable",
    "enable": "user.enable",
    "set-password": "user.set_password",
}


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise SystemExit("passwords differ")
    return first


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print JSON; exit 0 on success, 1 with a message on a refused command."""
    args = _parser().parse_args(argv)
    if not args.table:
        print("error: --table or AUTH_TABLE is required", file=sys.stderr)
        return 2
    if args.command in AUDITED and not args.audit_table:
        print("error: --audit-table or DATA_TABLE is required: every change to a user is audited", file=sys.stderr)
        return 2
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
        if args.endpoint_url.startswith(("http://127.0.0.1", "http://localhost")):
            # The local stack accepts any credentials; a newcomer may have none configured.
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
            os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if args.region:
        os.environ["AWS_DEFAULT_REGION"] = args.region
    dynamodb.reset()
    stores = stores_of(args.table)
    try:
        if args.command == "create":
            password = _read_password(args.password_stdin)
            result: object = accounts.create_user(
                stores, username=args.username, tenant_id=args.tenant, role=args.role, password=password
            )
        elif args.command == "set-role":
            result = accounts.set_role(stores, args.username, args.role)
        elif args.command in ("disable", "enable"):
            result = accounts.set_disabled(stores, args.username, args.command == "disable")
        elif args.command == "set-password":
            result = accounts.set_password(stores, args.username, _read_password(args.password_stdin))
        elif args.command == "show":
            result = accounts.get_user(stores, args.username)
        else:
            result = [
                {**user.model_dump(), "disabled": disabled}
                for user, disabled in accounts.list_users(stores, args.tenant)
            ]
    except AppError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    if args.command in AUDITED:
        assert isinstance(result, UserPublic)
        trail = AuditTrail(lambda: AuditRepository(args.audit_table), request_id=f"cli-{uuid.uuid4().hex}")
        trail.record(result.tenant_id, args.actor or f"cli:{getpass.getuser()}", AUDITED[args.command], result.username)
    dump = getattr(result, "model_dump", None)
    print(json.dumps(dump() if dump else result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
