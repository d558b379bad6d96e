"""template.yaml and samconfig.toml: the linters, a real `sam build`, and the rules of DESIGN section 9."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.bytecode import compile_command
from devstack.template.load import load_template, resources_of_type

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SAMCONFIG = REPO / "samconfig.toml"
TOOLS_BIN = REPO / ".venv" / "tools" / "bin"
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
LOCAL_PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"

# The one wildcard DESIGN section 9 allows: posting to WebSocket connections of our own API.
MANAGE_CONNECTIONS = "execute-api:ManageConnections"
WEBSOCKET_API_ARN = re.compile(
    r"^arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{(?P<api>\w+)\}/"
)
# The indexes of one of our own tables: `!Sub "${Table.Arn}/index/*"` names no other resource.
TABLE_INDEXES = re.compile(r"^\$\{(?P<table>\w+)\.Arn\}/index/\*$")


# --- helpers -------------------------------------------------------------------------------------


def tool(name: str) -> str:
    """The path of a template tool; the Makefile puts .venv/tools/bin on PATH for pytest."""
    found = shutil.which(name) or shutil.which(name, path=str(TOOLS_BIN))
    if found is None:
        pytest.fail(f"`{name}` is not on PATH nor in {TOOLS_BIN}: run `make install`", pytrace=False)
    return found


def run(
    args: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "SAM_CLI_TELEMETRY": "0", **(env or {})}
    return subprocess.run(args, cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout, check=False)


def outputs(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_websocket_api(resources: dict[str, Any], logical_id: str) -> bool:
    resource = resources.get(logical_id, {})
    return (
        resource.get("Type") == "AWS::ApiGatewayV2::Api"
        and resource.get("Properties", {}).get("ProtocolType") == "WEBSOCKET"
    )


def _is_own_table_indexes(resource: Any, resources: dict[str, Any]) -> bool:
    arn = resource.get("Fn::Sub") if isinstance(resource, dict) else None
    match = TABLE_INDEXES.match(arn) if isinstance(arn, str) else None
    return match is not None and resources.get(match["table"], {}).get("Type") == "AWS::DynamoDB::Table"


def _is_manage_connections_on_own_websocket_api(statement: dict[str, Any], resources: dict[str, Any]) -> bool:
    if _as_list(statement.get("Action")) != [MANAGE_CONNECTIONS]:
        return False
    for resource in _as_list(statement.get("Resource")):
        arn = resource.get("Fn::Sub") if isinstance(resource, dict) else None
        match = WEBSOCKET_API_ARN.match(arn) if isinstance(arn, str) else None
        if match is None or not _is_websocket_api(resources, match["api"]):
            return False
    return True


def unscoped_policies(policies: list[Any], resources: dict[str, Any]) -> list[str]:
    """Why each entry of a function's `Policies` is not scoped to named resources (empty when all are)."""
    problems = []
    for policy in policies:
        if isinstance(policy, str):
            problems.append(f"managed policy {policy!r}: use a SAM policy template scoped to one resource")
        elif isinstance(policy, dict) and "Statement" in policy:
            for statement in _as_list(policy["Statement"]):
                if "NotResource" in statement:
                    problems.append(f"NotResource grants everything else: {statement}")
                wildcard = any(
                    "*" in text
                    for resource in _as_list(statement.get("Resource"))
                    if not _is_own_table_indexes(resource, resources)
                    for text in _strings(resource)
                )
                if wildcard and not _is_manage_connections_on_own_websocket_api(statement, resources):
                    problems.append(f"wildcard resource: {statement}")
        elif isinstance(policy, dict):
            for name, parameters in policy.items():
                if not parameters:
                    problems.append(f"policy template {name} names no resource, so it expands to '*'")
                elif any("*" in text for text in _strings(parameters)):
                    problems.append(f"policy template {name} has a wildcard parameter: {parameters}")
        else:
            problems.append(f"unexpected policy entry: {policy!r}")
    return problems


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


def _of_type(template: dict[str, Any], *types: str) -> dict[str, Any]:
    return {name: resource for type_ in types for name, resource in resources_of_type(template, type_).items()}


# --- linters -------------------------------------------------------------------------------------


def test_cfn_lint_template_no_findings() -> None:
    result = run([tool("cfn-lint"), "template.yaml"], cwd=REPO, timeout=120)
    assert (result.returncode, result.stdout.strip(), result.stderr.strip()) == (0, "", ""), outputs(result)


@pytest.mark.parametrize("config_env", ["default", "dev", "prod"])
def test_sam_validate_lint_each_config_env_no_findings(config_env: str) -> None:
    result = run(
        [tool("sam"), "validate", "--lint", "--region", "us-east-1", "--config-env", config_env],
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, outputs(result)
    assert result.stdout.strip() == f"{TEMPLATE} is a valid SAM Template", outputs(result)
    assert result.stderr.strip() == "", outputs(result)


# --- sam build -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` of a copy of the template, outside the repo; returns the build directory.

    sam refuses to build for a Python runtime whose interpreter is not on PATH, so the copy
    targets this interpreter's version. arm64 stays: pip fetches manylinux aarch64 wheels
    (pydantic-core has them), so no Docker is needed.
    """
    work = tmp_path_factory.mktemp("sam-build")
    copy = work / "template.yaml"
    copy.write_text(re.sub(r"\bpython3\.\d+\b", LOCAL_PYTHON, TEMPLATE.read_text(encoding="utf-8")))
    build_dir = work / "build"
    result = run(
        [
            tool("sam"),
            "build",
            "--template-file",
            str(copy),
            "--base-dir",  # CodeUri/ContentUri stay relative to the repo
            str(REPO),
            "--build-dir",
            str(build_dir),
        ],
        cwd=work,  # keeps sam's cache and any samconfig lookup out of the repo
        timeout=600,
        env={"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert result.returncode == 0, outputs(result)
    return build_dir


@pytest.mark.timeout(660)
def test_sam_build_layer_contains_shared_package(sam_build: Path) -> None:
    layer = sam_build / "CommonLayer" / "python"
    assert not (layer / "python").exists(), (
        "the layer nests python/python/: SAM copies ContentUri into python/, so ContentUri must be "
        "the directory that holds alphapulse/ and requirements.txt"
    )
    assert (layer / "alphapulse" / "web" / "security.py").is_file(), sorted(p.name for p in layer.iterdir())


@pytest.mark.timeout(660)
def test_sam_build_layer_contains_third_party_dependencies(sam_build: Path) -> None:
    layer = sam_build / "CommonLayer" / "python"
    missing = [pkg for pkg in ("fastapi", "jwt", "pydantic", "mangum") if not (layer / pkg / "__init__.py").is_file()]
    assert not missing, f"not in the built layer: {missing} (was requirements.txt found next to ContentUri?)"


@pytest.mark.timeout(660)
def test_sam_build_layer_native_wheels_arm64(sam_build: Path) -> None:
    extensions = list((sam_build / "CommonLayer" / "python" / "pydantic_core").glob("_pydantic_core*.so"))
    assert extensions, "pydantic_core has no compiled extension in the layer"
    assert all("aarch64" in extension.name for extension in extensions), extensions


@pytest.mark.timeout(660)
def test_sam_build_auth_function_contains_handler(sam_build: Path) -> None:
    assert (sam_build / "AuthFunction" / "app.py").is_file()


@pytest.mark.timeout(660)
def test_sam_build_swagger_ui_in_system_function_only(sam_build: Path) -> None:
    # GET /api/v1/docs serves them (alphapulse.web.docs); the layer every function loads stays without them.
    vendor = sam_build / "SystemFunction" / "swagger_ui_bundle" / "vendor"
    bundles = list(vendor.glob("swagger-ui-*/swagger-ui-bundle.js"))
    assert len(bundles) == 1, "functions/system/requirements.txt was not built into SystemFunction"
    assert not (sam_build / "CommonLayer" / "python" / "swagger_ui_bundle").exists()
    assert not (sam_build / "AuthFunction" / "swagger_ui_bundle").exists()


@pytest.mark.timeout(660)
def test_sam_build_ships_no_bytecode_until_deploy_compiles_it(sam_build: Path, tmp_path: Path) -> None:
    # SAM unpacks wheels without compiling them: every cold start would compile every module it imports.
    assert not any(sam_build.rglob("*.pyc"))
    built = tmp_path / "build"
    shutil.copytree(sam_build, built)
    assert (
        run(compile_command(sys.executable, built), cwd=tmp_path, timeout=300).returncode == 0
    )  # what `python -m deploy` does
    for path in built.rglob("*.py"):  # as sam's zip dates them
        os.utime(path, (315532800, 315532800))
    loaded = run(
        [sys.executable, "-S", "-v", "-c", "import jwt, alphapulse.core.keys"],
        cwd=tmp_path,
        timeout=60,
        env={"PYTHONPATH": str(built / "CommonLayer" / "python"), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    origins = [
        line for line in loaded.stderr.splitlines() if line.startswith("# code object from") and str(built) in line
    ]
    assert len(origins) > 3 and all("__pycache__" in line for line in origins), origins


# --- rules of the template -----------------------------------------------------------------------


# Rebuilt by reads: a backup of the response cache would restore only expired answers.
NO_BACKUP_NEEDED = {"CacheTable"}


def test_template_dynamodb_tables_have_pitr_and_sse(template: dict[str, Any]) -> None:
    tables = _of_type(template, "AWS::DynamoDB::Table")
    assert tables and set(tables) >= NO_BACKUP_NEEDED
    for name, table in tables.items():
        properties = table["Properties"]
        pitr = properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
        assert pitr is (None if name in NO_BACKUP_NEEDED else True), name
        assert properties.get("SSESpecification", {}).get("SSEEnabled") is True, name


def test_template_function_policies_scoped_to_resources(template: dict[str, Any], resources: dict[str, Any]) -> None:
    functions = _of_type(template, "AWS::Serverless::Function")
    assert functions
    problems = {
        name: found
        for name, function in functions.items()
        if (found := unscoped_policies(function["Properties"].get("Policies", []), resources))
    }
    assert not problems, problems


def _dynamodb_actions(policies: list[Any]) -> set[str]:
    actions: set[str] = set()
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            for statement in _as_list(policy["Statement"]):
                actions |= {a for a in _as_list(statement.get("Action")) if str(a).startswith("dynamodb:")}
    return actions


def test_template_no_function_may_scan(template: dict[str, Any]) -> None:
    # No function scans (every list is a Query), so none may: the SAM DynamoDB policy templates grant Scan.
    for name, function in _of_type(template, *FUNCTION_TYPES).items():
        policies = function["Properties"].get("Policies", [])
        templates = {key for policy in policies if isinstance(policy, dict) for key in policy if key != "Statement"}
        assert not templates & {"DynamoDBCrudPolicy", "DynamoDBReadPolicy", "DynamoDBWritePolicy"}, name
        assert not {"dynamodb:Scan", "dynamodb:*"} & _dynamodb_actions(policies), name


def test_template_ws_connection_deletes_only_ticket_items(resources: dict[str, Any]) -> None:
    policies = resources["WsConnectionFunction"]["Properties"]["Policies"]
    on_auth = [
        statement
        for policy in policies
        if isinstance(policy, dict) and "Statement" in policy
        for statement in _as_list(policy["Statement"])
        if "AuthTable" in str(statement.get("Resource"))
    ]
    assert on_auth == [
        {
            "Effect": "Allow",
            "Action": "dynamodb:DeleteItem",
            "Resource": {"Fn::GetAtt": ["AuthTable", "Arn"]},
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["TICKET#*"]}},
        }
    ]


def _statements_on(resources: dict[str, Any], function: str, table: str) -> list[Any]:
    return [
        statement
        for policy in resources[function]["Properties"]["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in _as_list(policy["Statement"])
        if table in str(statement.get("Resource"))
    ]


@pytest.mark.parametrize(
    ("function", "action"), [("AuthFunction", "dynamodb:PutItem"), ("AuditFunction", "dynamodb:Query")]
)
def test_template_audit_log_access_is_one_action_on_audit_partitions_only(
    resources: dict[str, Any], function: str, action: str
) -> None:
    # The auth function writes audit entries and nothing else of DataTable; the audit function only reads them.
    assert _statements_on(resources, function, "DataTable") == [
        {
            "Effect": "Allow",
            "Action": action,
            "Resource": {"Fn::GetAtt": ["DataTable", "Arn"]},
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["AUDIT#*"]}},
        }
    ]


def test_template_functions_log_to_own_group_with_retention(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    for name, function in _of_type(template, *FUNCTION_TYPES).items():
        group = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
        assert isinstance(group, dict) and "Ref" in group, f"{name}: set LoggingConfig.LogGroup: !Ref <LogGroup>"
        log_group = resources.get(group["Ref"], {})
        assert log_group.get("Type") == "AWS::Logs::LogGroup", f"{name}: {group} is not a log group"
        assert "RetentionInDays" in log_group["Properties"], f"{name}: {group['Ref']} keeps logs forever"


def test_template_log_groups_have_retention(template: dict[str, Any]) -> None:
    for name, log_group in _of_type(template, "AWS::Logs::LogGroup").items():
        assert "RetentionInDays" in log_group.get("Properties", {}), name


def test_template_outputs_include_rest_api_url(template: dict[str, Any]) -> None:
    assert "RestApiUrl" in template["Outputs"]


def test_template_globals_arm64_by_default_with_active_tracing(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Architectures"] == [{"Ref": "Architecture"}]
    assert template["Parameters"]["Architecture"]["Default"] == "arm64"
    assert template["Parameters"]["Architecture"]["AllowedValues"] == ["arm64", "x86_64"]
    assert function_globals["Tracing"] == "Active"


# --- the policy check itself ---------------------------------------------------------------------

WEBSOCKET_RESOURCES = {
    "WebSocketApi": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET"}},
    "RestApi": {"Type": "AWS::Serverless::Api", "Properties": {}},
}


def _statement(action: str | list[str], resource: Any) -> dict[str, Any]:
    return {"Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def _connections_arn(api: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api}}}/*"}


def test_unscoped_policies_manage_connections_on_own_websocket_api_allowed() -> None:
    policy = _statement(MANAGE_CONNECTIONS, _connections_arn("WebSocketApi"))
    assert unscoped_policies([policy], WEBSOCKET_RESOURCES) == []


@pytest.mark.parametrize(
    "policy",
    [
        _statement("dynamodb:GetItem", "*"),
        _statement(MANAGE_CONNECTIONS, "*"),
        _statement(MANAGE_CONNECTIONS, _connections_arn("RestApi")),
        _statement(MANAGE_CONNECTIONS, _connections_arn("UnknownApi")),
        _statement([MANAGE_CONNECTIONS, "execute-api:Invoke"], _connections_arn("WebSocketApi")),
        {"DynamoDBCrudPolicy": {"TableName": "*"}},
        {"CloudWatchPutMetricPolicy": {}},
        "AmazonDynamoDBFullAccess",
    ],
)
def test_unscoped_policies_wildcards_rejected(policy: Any) -> None:
    assert unscoped_policies([policy], WEBSOCKET_RESOURCES)


# --- samconfig.toml ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config_env", "stack_name", "stage"),
    [
        ("default", "alphapulse-dashboard-dev", "dev"),
        ("dev", "alphapulse-dashboard-dev", "dev"),
        ("prod", "alphapulse-dashboard-prod", "prod"),
    ],
)
def test_samconfig_environment_deploys_its_stage(
    template: dict[str, Any], config_env: str, stack_name: str, stage: str
) -> None:
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))[config_env]
    deploy = config["deploy"]["parameters"]
    assert config["global"]["parameters"]["stack_name"] == stack_name
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["confirm_changeset"] is (stage == "prod"), "a person reviews prod change sets"
    overrides = dict(pair.split("=", 1) for pair in shlex.split(deploy["parameter_overrides"]))
    assert overrides["Stage"] == stage
    for key, value in overrides.items():
        parameter = template["Parameters"].get(key)
        assert parameter is not None, f"{config_env}: {key} is not a template parameter"
        assert value in parameter.get("AllowedValues", [value]), f"{config_env}: {key}={value}"
    if stage == "prod":
        assert "localhost" not in overrides.get("CorsOrigins", "localhost"), "prod must name its own origins"
