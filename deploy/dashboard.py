"""`make deploy`: the stack, then the dashboard's files, config.json and CorsOrigins (README "Deploy").

1. `sam build` and `sam deploy --config-env ENV`. When the stack already has a dashboard, its URL is added to
   CorsOrigins in this same deploy, so that samconfig's own CorsOrigins (prod sets one) never takes it away.
2. The built page (web/dist) into DashboardBucketName, each file with its Content-Type and Cache-Control, and
   config.json from the outputs RestApiUrl and WebSocketUrl.
3. A CloudFront invalidation of what a build changes under the same name (/, /index.html, /config.json).
4. On the first deploy, DashboardUrl exists only now: a second `sam deploy` adds it to CorsOrigins. Later runs
   find it there and deploy once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.errors import DeployError
from deploy.samconfig import Environment
from deploy.site import dashboard_config, invalidate, require_build, site_files, upload
from deploy.stack import CORS_ORIGINS, Sam, Stack, describe_stack, has_origin, with_origin

DASHBOARD_URL = "DashboardUrl"
BUCKET = "DashboardBucketName"
DISTRIBUTION = "DashboardDistributionId"


@dataclass(frozen=True)
class Clients:
    """The AWS clients a deployment uses (boto3's, or moto's in the tests)."""

    cloudformation: Any
    s3: Any
    cloudfront: Any


@dataclass(frozen=True)
class Deployed:
    """What a deployment did."""

    dashboard_url: str
    bucket: str
    keys: list[str]
    invalidation_id: str
    cors_origins: str
    cors_updated: bool  # a second `sam deploy` added the dashboard to CorsOrigins


def cors_overrides(environment: Environment, stack: Stack | None) -> dict[str, str] | None:
    """The parameter overrides that keep an existing dashboard in CorsOrigins, or None when samconfig's do already.

    sam keeps the current value of a parameter its overrides do not name, so only a CorsOrigins in samconfig
    can drop the dashboard's origin."""
    if stack is None or not stack.outputs.get(DASHBOARD_URL):
        return None
    overrides = environment.parameter_overrides
    current = overrides.get(CORS_ORIGINS, stack.parameters.get(CORS_ORIGINS, ""))
    url = stack.outputs[DASHBOARD_URL]
    if has_origin(current, url):
        return None
    return {**overrides, CORS_ORIGINS: with_origin(current, url)}


def deploy_dashboard(
    environment: Environment, dist: Path, clients: Clients, sam: Sam, say: Callable[[str], None] = print
) -> Deployed:
    """Deploy the stack and the dashboard built in `dist` (module docstring); idempotent."""
    require_build(dist)  # before the stack is touched
    say(f"sam build and sam deploy --config-env {environment.name} (stack {environment.stack_name})")
    sam.build(environment.name)
    before = describe_stack(clients.cloudformation, environment.stack_name)
    sam.deploy(environment.name, cors_overrides(environment, before))
    stack = describe_stack(clients.cloudformation, environment.stack_name)
    if stack is None:
        raise DeployError(f"stack {environment.stack_name} is not deployed (was its change set declined?)")
    bucket, distribution, url = stack.output(BUCKET), stack.output(DISTRIBUTION), stack.output(DASHBOARD_URL)

    files = site_files(dist, dashboard_config(stack.outputs))
    say(f"uploading {len(files)} files to s3://{bucket}")
    upload(clients.s3, bucket, files)
    invalidation_id = invalidate(clients.cloudfront, distribution)
    say(f"invalidation {invalidation_id} of /index.html and /config.json on {distribution}")

    origins = stack.parameters.get(CORS_ORIGINS, "")
    updated = not has_origin(origins, url)
    if updated:
        origins = with_origin(origins, url)
        say(f"adding {url} to CorsOrigins: sam deploy --config-env {environment.name} again")
        sam.deploy(environment.name, {**environment.parameter_overrides, CORS_ORIGINS: origins})
    say(f"dashboard: {url}  (CorsOrigins {origins})")
    return Deployed(url, bucket, [file.key for file in files], invalidation_id, origins, updated)
