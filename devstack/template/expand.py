"""A SAM template expanded as `sam deploy` has CloudFormation expand it: by SAM's own translator.

Every `AWS::Serverless::*` resource, Globals and function events become the plain CloudFormation resources
that AWS creates (AWS::Lambda::Function, AWS::ApiGateway::RestApi with its OpenAPI body, AWS::ApiGatewayV2::*,
AWS::Events::Rule, AWS::SNS::Subscription, AWS::Lambda::EventSourceMapping...), so the local stack reads
only those and interprets nothing of SAM by hand.

`sam deploy` uploads local code first and hands the translator S3 locations; here local paths become
`s3://devstack-local-code/<path>`, which `local_code` turns back into the path. The translator runs in the
tools virtualenv, beside SAM CLI (devstack/template/sam_translate.py).
"""

from __future__ import annotations

import copy
import json
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from devstack.template.load import ROOT

TOOLS_PYTHON = ROOT / ".venv" / "tools" / "bin" / "python"  # where SAM CLI and its translator are installed

LOCAL_CODE_BUCKET = "devstack-local-code"
CODE_PROPERTIES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


class TemplateError(ValueError):
    """The template is not one that SAM would deploy (the translator's own message)."""


def expand(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The CloudFormation template that SAM's translator makes of `template` (returned as is without the
    SAM transform). `parameters`: the template's parameter values, defaults included, and the pseudo
    parameters (AWS::Region, AWS::AccountId, AWS::Partition, AWS::StackName)."""
    if "AWS::Serverless-2016-10-31" not in _transforms(template):
        return copy.deepcopy(template)
    request = json.dumps({"template": _with_local_code_as_s3(template), "parameters": parameters})
    expanded: dict[str, Any] = json.loads(_translate(request))
    return expanded


@lru_cache(maxsize=32)
def _translate(request: str) -> str:
    if not TOOLS_PYTHON.exists():
        raise TemplateError(f"SAM's translator is not installed ({TOOLS_PYTHON}): run `make install`")
    done = subprocess.run([str(TOOLS_PYTHON), str(Path(__file__).with_name("sam_translate.py"))], input=request,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    if done.returncode != 0:
        raise TemplateError(f"SAM cannot expand the template: {' '.join(done.stderr.split())}")
    return done.stdout


def local_code(code: Any) -> str | None:
    """The local path of a function's or layer's code (`Code`/`Content` of the expanded template), or None."""
    if isinstance(code, dict) and code.get("S3Bucket") == LOCAL_CODE_BUCKET:
        return str(code["S3Key"])
    return None


def _transforms(template: dict[str, Any]) -> list[str]:
    transform = template.get("Transform", [])
    return [transform] if isinstance(transform, str) else list(transform)


def _with_local_code_as_s3(template: dict[str, Any]) -> dict[str, Any]:
    source = copy.deepcopy(template)
    properties = [resource.get("Properties", {}) for resource in source.get("Resources", {}).values()
                  if resource.get("Type") in CODE_PROPERTIES]  # fmt: skip
    properties += [source.get("Globals", {}).get("Function", {}), source.get("Globals", {}).get("LayerVersion", {})]
    for props in properties:
        for key in CODE_PROPERTIES.values():
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://{LOCAL_CODE_BUCKET}/{props[key]}"
    return source
