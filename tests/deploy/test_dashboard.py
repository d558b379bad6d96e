"""`make deploy`'s dashboard steps (deploy/), against moto: the files in the bucket with their Content-Type and
Cache-Control, config.json from the outputs, the invalidation, and CorsOrigins; sam is a fake that creates or
updates a small stack in moto's CloudFormation as `sam deploy` would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from deploy.bytecode import compile_command
from deploy.dashboard import Clients, Deployed, cors_overrides, deploy_dashboard
from deploy.errors import DeployError
from deploy.samconfig import Environment, parse_overrides
from deploy.site import IMMUTABLE, REVALIDATE, SHORT
from deploy.stack import Sam, Stack, describe_stack

REGION = "us-east-1"
REST_API_URL = "https://abc123defg.execute-api.us-east-1.amazonaws.com/dev"
WEBSOCKET_URL = "wss://wsapi12345.execute-api.us-east-1.amazonaws.com/dev"
# The stack as far as the deployment sees it: the template's parameters and outputs, with the bucket real (in moto)
# and the distribution's id and domain passed in (moto's CloudFormation does not create distributions).
FAKE_TEMPLATE = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev"},
        "CorsOrigins": {"Type": "String", "Default": "http://localhost:5173"},
        "LogLevel": {"Type": "String", "Default": "INFO"},
        "DistributionId": {"Type": "String"},
        "DistributionDomain": {"Type": "String"},
    },
    "Resources": {"DashboardBucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {
        "RestApiUrl": {"Value": REST_API_URL},
        "WebSocketUrl": {"Value": WEBSOCKET_URL},
        "DashboardUrl": {"Value": {"Fn::Join": ["", ["https://", {"Ref": "DistributionDomain"}]]}},
        "DashboardBucketName": {"Value": {"Ref": "DashboardBucket"}},
        "DashboardDistributionId": {"Value": {"Ref": "DistributionId"}},
    },
}
BUILT = {
    "index.html": b"<!doctype html><script type=module src=/assets/index-Bx7a9.js></script>",
    "assets/index-Bx7a9.js": b"console.log('app')",
    "assets/index-C0ffee.css": b"body{}",
    "favicon.svg": b"<svg/>",
    "config.json": b'{"apiUrl": "/api/v1", "webSocketUrl": "ws://127.0.0.1:3001"}',  # the local one
}
BUILD_FILES = {".build-stamp": b"0123abcd\n", ".vite/manifest.json": b"{}"}  # devstack.dashboard's and Vite's


@dataclass
class FakeSam:
    """`sam build` and `sam deploy --config-env` as far as the stack goes: deploy creates or updates the fake stack,
    with the command line's parameter overrides or else samconfig's, and unnamed parameters keeping their values."""

    cloudformation: Any
    environment: Environment
    resources: dict[str, str]  # the distribution's id and domain
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, args: list[str], cwd: Path) -> int:
        self.calls.append(args[1:])
        if args[1] == "deploy":
            given = "--parameter-overrides" in args
            overrides = parse_overrides(args[args.index("--parameter-overrides") + 1]) if given else None
            try:
                self._deploy(self.environment.parameter_overrides if overrides is None else overrides)
            except ClientError as exc:  # as sam: an empty change set fails unless told otherwise
                if "No updates are to be performed" not in str(exc) or "--no-fail-on-empty-changeset" not in args:
                    raise
        return 0

    def _deploy(self, overrides: dict[str, str]) -> None:
        name, body = self.environment.stack_name, json.dumps(FAKE_TEMPLATE)
        stack = describe_stack(self.cloudformation, name)
        # As sam's merge_parameters: a parameter not named keeps its value (UsePreviousValue, which moto's
        # UpdateStack fails on for a parameter that took its default, so the value itself is passed).
        values = {**(stack.parameters if stack else {}), **overrides, **self.resources}
        parameters = [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]
        if stack is None:
            self.cloudformation.create_stack(StackName=name, TemplateBody=body, Parameters=parameters)
        else:
            self.cloudformation.update_stack(StackName=name, TemplateBody=body, Parameters=parameters)

    @property
    def deploys(self) -> list[list[str]]:
        return [call for call in self.calls if call[0] == "deploy"]


@pytest.fixture
def clients(moto_server: str) -> Clients:
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_server, region_name=REGION)

    return Clients(client("cloudformation"), client("s3"), client("cloudfront"))


@pytest.fixture
def distribution(clients: Clients) -> dict[str, str]:
    """A distribution in moto; its id and domain, as the fake stack's parameters."""
    reply = clients.cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "dashboard",
            "Comment": "dashboard",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "bucket", "DomainName": "bucket.s3.us-east-1.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "bucket", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
        }
    )  # fmt: skip
    return {"DistributionId": reply["Distribution"]["Id"], "DistributionDomain": reply["Distribution"]["DomainName"]}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A built page, as `npm run build` leaves web/dist."""
    for key, body in {**BUILT, **BUILD_FILES}.items():
        path = tmp_path / "dist" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return tmp_path / "dist"


def environment(**overrides: str) -> Environment:
    return Environment("dev", "alphapulse-dashboard-test", REGION, None, {"Stage": "dev", **overrides})


def deploy(env: Environment, dist: Path, clients: Clients, distribution: dict[str, str]) -> tuple[Deployed, FakeSam]:
    sam = FakeSam(clients.cloudformation, env, distribution)
    return deploy_dashboard(env, dist, clients, Sam("sam", dist, "python3.13", run=sam), say=lambda _: None), sam


def cors_origins(clients: Clients, env: Environment) -> str:
    stack = describe_stack(clients.cloudformation, env.stack_name)
    assert stack is not None
    return stack.parameters["CorsOrigins"]


# --- the files ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "content_type", "cache_control"),
    [
        ("index.html", "text/html; charset=utf-8", REVALIDATE),
        ("config.json", "application/json", REVALIDATE),
        ("assets/index-Bx7a9.js", "text/javascript; charset=utf-8", IMMUTABLE),
        ("assets/index-C0ffee.css", "text/css; charset=utf-8", IMMUTABLE),
        ("favicon.svg", "image/svg+xml", SHORT),
    ],
)
def test_deploy_dashboard_each_file_its_content_type_and_cache_control(
    clients: Clients, distribution: dict[str, str], dist: Path, key: str, content_type: str, cache_control: str
) -> None:
    deployed, _ = deploy(environment(), dist, clients, distribution)
    head = clients.s3.head_object(Bucket=deployed.bucket, Key=key)
    assert (head["ContentType"], head["CacheControl"]) == (content_type, cache_control)


def test_deploy_dashboard_config_json_from_outputs_replaces_built_one(
    clients: Clients, distribution: dict[str, str], dist: Path
) -> None:
    deployed, _ = deploy(environment(), dist, clients, distribution)
    body = clients.s3.get_object(Bucket=deployed.bucket, Key="config.json")["Body"].read()
    assert json.loads(body) == {"apiUrl": f"{REST_API_URL}/api/v1", "webSocketUrl": WEBSOCKET_URL}


def test_deploy_dashboard_uploads_every_page_file_index_html_last(
    clients: Clients, distribution: dict[str, str], dist: Path
) -> None:
    deployed, _ = deploy(environment(), dist, clients, distribution)
    listed = clients.s3.list_objects_v2(Bucket=deployed.bucket)["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted(BUILT)
    assert deployed.keys[-2:] == ["config.json", "index.html"]
    assert deployed.keys[:2] == ["assets/index-Bx7a9.js", "assets/index-C0ffee.css"]
    assert clients.s3.get_object(Bucket=deployed.bucket, Key="index.html")["Body"].read() == BUILT["index.html"]


def test_deploy_dashboard_invalidates_page_and_config(
    clients: Clients, distribution: dict[str, str], dist: Path
) -> None:
    deployed, _ = deploy(environment(), dist, clients, distribution)
    invalidation = clients.cloudfront.get_invalidation(
        DistributionId=distribution["DistributionId"], Id=deployed.invalidation_id
    )["Invalidation"]
    assert sorted(invalidation["InvalidationBatch"]["Paths"]["Items"]) == ["/", "/config.json", "/index.html"]


def test_deploy_dashboard_without_build_fails_before_the_stack(
    clients: Clients, distribution: dict[str, str], tmp_path: Path
) -> None:
    sam = FakeSam(clients.cloudformation, environment(), distribution)
    with pytest.raises(DeployError, match="build the page first"):
        deploy_dashboard(
            environment(), tmp_path, clients, Sam("sam", tmp_path, "python3.13", run=sam), say=lambda _: None
        )
    assert sam.calls == []


# --- CorsOrigins -------------------------------------------------------------------------------------------------


def test_deploy_dashboard_first_deploy_adds_dashboard_to_cors_origins(
    clients: Clients, distribution: dict[str, str], dist: Path
) -> None:
    # Given no stack yet, when the dashboard is deployed
    deployed, sam = deploy(environment(), dist, clients, distribution)
    # Then sam built and deployed with samconfig's overrides, and deployed again with the dashboard's origin added
    url = f"https://{distribution['DistributionDomain']}"
    assert sam.calls == [
        ["build", "--config-env", "dev"],
        compile_command("python3.13", dist / ".aws-sam" / "build")[1:],
        ["deploy", "--config-env", "dev", "--no-fail-on-empty-changeset"],
        ["deploy", "--config-env", "dev", "--no-fail-on-empty-changeset",
         "--parameter-overrides", f'Stage="dev" CorsOrigins="http://localhost:5173,{url}"'],
    ]  # fmt: skip
    assert (deployed.dashboard_url, deployed.cors_updated) == (url, True)
    assert cors_origins(clients, environment()) == f"http://localhost:5173,{url}"


def test_deploy_dashboard_second_run_deploys_once_same_state(
    clients: Clients, distribution: dict[str, str], dist: Path
) -> None:
    first, _ = deploy(environment(), dist, clients, distribution)
    objects = clients.s3.list_objects_v2(Bucket=first.bucket)["Contents"]
    # When it runs again with nothing changed
    second, sam = deploy(environment(), dist, clients, distribution)
    # Then one deploy, with samconfig's overrides (the stack keeps its CorsOrigins), and the same files
    assert sam.deploys == [["deploy", "--config-env", "dev", "--no-fail-on-empty-changeset"]]
    assert second.cors_updated is False
    assert cors_origins(clients, environment()) == first.cors_origins
    again = clients.s3.list_objects_v2(Bucket=second.bucket)["Contents"]
    assert [(item["Key"], item["ETag"]) for item in again] == [(item["Key"], item["ETag"]) for item in objects]


def test_deploy_dashboard_samconfig_cors_origins_keeps_dashboard_in_one_deploy(
    clients: Clients, distribution: dict[str, str], dist: Path
) -> None:
    # Given prod's samconfig, which names its own CorsOrigins, and a stack deployed once
    env = environment(CorsOrigins="https://dashboard.alphapulse.example")
    first, _ = deploy(env, dist, clients, distribution)
    assert first.cors_origins == f"https://dashboard.alphapulse.example,{first.dashboard_url}"
    # When it deploys again, then its one deploy already passes CorsOrigins with the dashboard in it
    _, sam = deploy(env, dist, clients, distribution)
    merged = f'Stage="dev" CorsOrigins="https://dashboard.alphapulse.example,{first.dashboard_url}"'
    assert sam.deploys == [["deploy", "--config-env", "dev", "--no-fail-on-empty-changeset",
                            "--parameter-overrides", merged]]  # fmt: skip
    assert cors_origins(clients, env) == first.cors_origins


@pytest.mark.parametrize(
    ("samconfig", "current", "expected"),
    [
        ({}, "http://localhost:5173,https://d1.cloudfront.net", None),  # the stack keeps it
        ({}, "http://localhost:5173", {"CorsOrigins": "http://localhost:5173,https://d1.cloudfront.net"}),
        ({"CorsOrigins": "https://a.example"}, "https://a.example,https://d1.cloudfront.net",
         {"CorsOrigins": "https://a.example,https://d1.cloudfront.net"}),
        ({"CorsOrigins": "https://a.example,https://d1.cloudfront.net/"}, "", None),
    ],
)  # fmt: skip
def test_cors_overrides_existing_dashboard_kept(
    samconfig: dict[str, str], current: str, expected: dict[str, str] | None
) -> None:
    stack = Stack("s", {"DashboardUrl": "https://d1.cloudfront.net"}, {"CorsOrigins": current})
    found = cors_overrides(environment(**samconfig), stack)
    assert found == (None if expected is None else {"Stage": "dev", **expected})


def test_cors_overrides_no_stack_yet_none() -> None:
    assert cors_overrides(environment(CorsOrigins="https://a.example"), None) is None


def test_describe_stack_missing_none(clients: Clients) -> None:
    assert describe_stack(clients.cloudformation, "no-such-stack") is None
