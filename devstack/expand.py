"""A SAM template expanded as `sam deploy` has CloudFormation expand it: by SAM's own translator.

Every `AWS::Serverless::*` resource, Globals and function events become the plain CloudFormation resources
that AWS creates (AWS::Lambda::Function, AWS::ApiGateway::RestApi with its OpenAPI body, AWS::ApiGatewayV2::*,
AWS::Events::Rule, AWS::SNS::Subscription, AWS::Lambda::EventSourceMapping...), so the local stack reads
only those and interprets nothing of SAM by hand.

`sam deploy` uploads local code first and hands the translator S3 locations; here local paths become
`s3://devstack-local-code/<path>`, which `local_code` turns back into the path.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

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
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its feature-toggle chatter
    source = _with_local_code_as_s3(template)
    session = boto3.session.Session(region_name=parameters["AWS::Region"])
    try:
        expanded: dict[str, Any] = Translator(None, Parser(), boto_session=session).translate(
            source, parameter_values=dict(parameters), get_managed_policy_map=dict, passthrough_metadata=True
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes)
        raise TemplateError(f"SAM cannot expand the template: {causes}") from exc
    return expanded


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
