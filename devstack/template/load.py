"""Reading template.yaml: CloudFormation tags, resources by type, and DynamoDB table definitions.

Tests, the bench and the local stack build their tables from here, so the schema they use
is the one the template deploys.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]  # the project: devstack/template/load.py
TEMPLATE = ROOT / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that reads short-form intrinsics (!Ref X) as their long form ({"Ref": X})."""


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, intrinsics in their long form."""
    with path.open() as handle:
        try:
            template: dict[str, Any] = yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 (SafeLoader subclass)
        except yaml.YAMLError as exc:
            raise ValueError(f"not a YAML template: {' '.join(str(exc).split())}") from exc
    return template


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of one type."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


def references(value: Any) -> list[str]:
    """The logical ids a property names through Ref, Fn::GetAtt or ${...} in Fn::Sub."""
    if isinstance(value, list):
        return [name for item in value for name in references(item)]
    if not isinstance(value, dict):
        return []
    if "Ref" in value:
        return [str(value["Ref"])]
    if "Fn::GetAtt" in value:
        attribute = value["Fn::GetAtt"]
        return [attribute[0] if isinstance(attribute, list) else str(attribute).split(".")[0]]
    if "Fn::Sub" in value:
        argument = value["Fn::Sub"]
        text, extra = (argument, {}) if isinstance(argument, str) else argument
        names = [found.split(".")[0] for found in re.findall(r"\$\{([^}!]+)\}", text)]
        return [name for name in names if name not in extra] + references(list(extra.values()))
    return [name for item in value.values() for name in references(item)]


def function_behind(template: dict[str, Any], logical_id: str) -> str | None:
    """The AWS::Lambda::Function that `logical_id` is, or that an AWS::Lambda::Alias or Version of it (SAM's
    AutoPublishAlias) points to; None for anything else."""
    resource = template.get("Resources", {}).get(logical_id) or {}
    kind = resource.get("Type")
    if kind == "AWS::Lambda::Function":
        return logical_id
    if kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        target = references(resource.get("Properties", {}).get("FunctionName"))
        return function_behind(template, target[0]) if target else None
    return None


def table_definition(resource: dict[str, Any], table_name: str) -> dict[str, Any]:
    """CreateTable arguments for an AWS::DynamoDB::Table resource, under a local name."""
    props = resource["Properties"]
    definition: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    indexes = [
        {"IndexName": gsi["IndexName"], "KeySchema": gsi["KeySchema"], "Projection": gsi["Projection"]}
        for gsi in props.get("GlobalSecondaryIndexes", [])
    ]
    if indexes:
        definition["GlobalSecondaryIndexes"] = indexes
    return definition


def ttl_attribute(resource: dict[str, Any]) -> str | None:
    """The table's TTL attribute, when TTL is enabled."""
    ttl = resource["Properties"].get("TimeToLiveSpecification") or {}
    return ttl.get("AttributeName") if ttl.get("Enabled") else None


def create_tables(client: Any, template: dict[str, Any], name_of: Any = str) -> dict[str, str]:
    """Create every table of the template with `client`; returns logical id -> table name."""
    names: dict[str, str] = {}
    for logical_id, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        name = name_of(logical_id)
        client.create_table(**table_definition(resource, name))
        attribute = ttl_attribute(resource)
        if attribute:
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
            )
        names[logical_id] = name
    return names
