"""samconfig.toml as `make deploy` reads it (deploy.samconfig), and the `sam` commands it runs (deploy.stack.Sam)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from deploy.errors import DeployError
from deploy.samconfig import Environment, format_overrides, parse_overrides, read_environment
from deploy.stack import Sam, has_origin, with_origin

ROOT = Path(__file__).resolve().parents[2]
TOOLS_PYTHON = ROOT / ".venv" / "tools" / "bin" / "python"


@pytest.mark.parametrize(
    ("name", "stack_name", "overrides"),
    [
        ("dev", "alphapulse-dashboard-dev", {"Stage": "dev"}),
        ("prod", "alphapulse-dashboard-prod",
         {"Stage": "prod", "CorsOrigins": "https://dashboard.alphapulse.example", "LogLevel": "INFO"}),
    ],
)  # fmt: skip
def test_read_environment_repo_samconfig_stack_region_overrides(
    name: str, stack_name: str, overrides: dict[str, str]
) -> None:
    assert read_environment(ROOT / "samconfig.toml", name) == Environment(
        name, stack_name, "us-east-1", None, overrides
    )


def test_read_environment_deploy_parameters_win_over_global(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[qa.global.parameters]\nstack_name = "a"\nregion = "eu-west-1"\n'
        '[qa.deploy.parameters]\nstack_name = "b"\nprofile = "qa"\nparameter_overrides = ["Stage=staging", "X=1"]\n'
    )
    assert read_environment(config, "qa") == Environment("qa", "b", "eu-west-1", "qa", {"Stage": "staging", "X": "1"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('version = 0.1\n[dev.global.parameters]\nstack_name = "a"\nregion = "us-east-1"\n', "no environment 'qa'"),
        ('version = 0.1\n[qa.global.parameters]\nstack_name = "a"\n', "sets no region"),
    ],
)
def test_read_environment_incomplete_refused(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text(text)
    with pytest.raises(DeployError, match=message):
        read_environment(config, "qa")


def test_parse_overrides_not_key_value_refused() -> None:
    with pytest.raises(DeployError, match="not Key=Value"):
        parse_overrides("Stage=dev oops")


def test_format_overrides_quote_in_value_refused() -> None:
    with pytest.raises(DeployError, match="quotes"):
        format_overrides({"CorsOrigins": 'https://a"b'})


OVERRIDES = {"Stage": "prod", "CorsOrigins": "https://a.example,https://d1.cloudfront.net", "LogLevel": "INFO"}


def test_format_overrides_parse_overrides_round_trip() -> None:
    assert parse_overrides(format_overrides(OVERRIDES)) == OVERRIDES


@pytest.mark.infra
def test_format_overrides_sam_reads_them_back() -> None:
    # The string is parsed by sam's own --parameter-overrides type, in the tools' virtualenv.
    if not TOOLS_PYTHON.exists():
        pytest.fail(f"{TOOLS_PYTHON} is missing: run `make install`", pytrace=False)
    script = (
        "import json, sys; from samcli.cli.types import CfnParameterOverridesType as T; "
        "print(json.dumps(T().convert([sys.argv[1]], None, None)))"
    )
    result = subprocess.run(
        [str(TOOLS_PYTHON), "-c", script, format_overrides(OVERRIDES)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout) == OVERRIDES


# --- CorsOrigins -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origins", "expected"),
    [
        ("http://localhost:5173", "http://localhost:5173,https://d1.cloudfront.net"),
        ("http://localhost:5173,https://d1.cloudfront.net", "http://localhost:5173,https://d1.cloudfront.net"),
        ("https://d1.cloudfront.net/, https://b.example", "https://d1.cloudfront.net/,https://b.example"),
        ("", "https://d1.cloudfront.net"),
        (" https://a.example ,, https://b.example", "https://a.example,https://b.example,https://d1.cloudfront.net"),
    ],
)
def test_with_origin_added_once_order_kept(origins: str, expected: str) -> None:
    assert with_origin(origins, "https://d1.cloudfront.net") == expected
    assert has_origin(expected, "https://d1.cloudfront.net")


def test_has_origin_other_origin_false() -> None:
    assert not has_origin("https://d1.cloudfront.net.evil.example", "https://d1.cloudfront.net")


# --- sam -----------------------------------------------------------------------------------------------------------


def test_sam_commands_in_project_with_config_env(tmp_path: Path) -> None:
    calls: list[tuple[list[str], Path]] = []

    def run(args: list[str], cwd: Path) -> int:
        calls.append((args, cwd))
        return 0

    sam = Sam("/opt/sam", tmp_path, "/opt/python3.13", run=run)
    sam.build("prod")
    sam.deploy("prod")
    sam.deploy("prod", {"Stage": "prod", "CorsOrigins": "https://a.example"})
    assert calls == [
        (["/opt/sam", "build", "--config-env", "prod"], tmp_path),
        (["/opt/python3.13", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "checked-hash",
          str(tmp_path / ".aws-sam" / "build")], tmp_path),
        (["/opt/sam", "deploy", "--config-env", "prod", "--no-fail-on-empty-changeset"], tmp_path),
        (["/opt/sam", "deploy", "--config-env", "prod", "--no-fail-on-empty-changeset",
          "--parameter-overrides", 'Stage="prod" CorsOrigins="https://a.example"'], tmp_path),
    ]  # fmt: skip


def test_sam_failure_raises_deploy_error(tmp_path: Path) -> None:
    sam = Sam("sam", tmp_path, "python3.13", run=lambda args, cwd: 2)
    with pytest.raises(DeployError, match=r"`sam deploy --config-env dev` failed \(exit 2\)"):
        sam.deploy("dev")


def test_sam_build_whose_bytecode_fails_raises_deploy_error(tmp_path: Path) -> None:
    sam = Sam("sam", tmp_path, "python3.13", run=lambda args, cwd: 1 if "compileall" in args else 0)
    with pytest.raises(DeployError, match=r"compiling .aws-sam/build with python3.13 failed"):
        sam.build("dev")
