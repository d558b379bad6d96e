"""`python -m deploy [--config-env ENV] [--dist web/dist]`: what `make deploy` runs (deploy.dashboard)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from deploy.bytecode import runtime_of, runtime_python
from deploy.dashboard import Clients, deploy_dashboard
from deploy.errors import DeployError
from deploy.samconfig import read_environment
from deploy.stack import Sam
from devstack.template.load import load_template

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    parser.add_argument("--config-env", default="dev", help="the samconfig.toml environment (default: dev)")
    parser.add_argument("--dist", type=Path, default=ROOT / "web" / "dist", help="the built page (default: web/dist)")
    parser.add_argument(
        "--sam",
        default=shutil.which("sam") or str(ROOT / ".venv" / "tools" / "bin" / "sam"),
        help="the sam executable (default: on PATH, else .venv/tools/bin/sam)",
    )
    parser.add_argument(
        "--samconfig",
        type=Path,
        default=ROOT / "samconfig.toml",
        help="sam's settings; sam runs in its folder (default: the project's)",
    )
    parser.add_argument("--python", type=Path, help="the Lambda runtime's interpreter, which compiles the build "
                        "(default: the template's runtime, e.g. python3.13, on PATH or pyenv's)")  # fmt: skip
    args = parser.parse_args(argv)
    runtime = load_template(args.samconfig.parent / "template.yaml")["Globals"]["Function"]["Runtime"]
    python = args.python or runtime_python(runtime)
    if python is None or runtime_of(python) != runtime:
        found = f"{python} is not {runtime}" if python else f"no {runtime} interpreter on PATH"
        print(f"deploy: {found}: its bytecode would not load in Lambda (`sam build` needs it too)", file=sys.stderr)
        return 1

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        environment = read_environment(args.samconfig, args.config_env)
        session = boto3.Session(profile_name=environment.profile, region_name=environment.region)
        clients = Clients(session.client("cloudformation"), session.client("s3"), session.client("cloudfront"))
        deploy_dashboard(environment, args.dist, clients, Sam(args.sam, args.samconfig.parent, python))
    except (DeployError, ClientError, BotoCoreError) as exc:  # no credentials, no permission, ...
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
