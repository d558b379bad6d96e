"""Templates as the local stack reads them: expanded (devstack.template.expand), with parameter values, and
every intrinsic function and condition resolved to local values."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devstack.template.expand import expand
from devstack.template.load import load_template

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STAGE = "local"
DEFAULT_STACK_NAME = "alphapulse-local"
FUNCTION = "AWS::Lambda::Function"
ALIAS = "AWS::Lambda::Alias"
VERSION = "AWS::Lambda::Version"
LOCAL_VERSION = "1"  # every published version is the function's code as it is on disk
DISTRIBUTION = "AWS::CloudFront::Distribution"
PSEUDO_PARAMETERS = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": DEFAULT_STACK_NAME,
                     "AWS::URLSuffix": "amazonaws.com", "AWS::Partition": "aws"}  # fmt: skip


# An API's URL, once its intrinsics are resolved: https://{api}.execute-api.{region}.amazonaws.com[/{stage}],
# where {api} is the logical id (what Ref gives locally). Locally every API is served at the root of its own
# port, so the stage goes.
API_URL = re.compile(r"(?P<scheme>https|wss)://(?P<api>\w+)\.execute-api\.[\w-]+\.amazonaws\.com(?:/[\w-]+)?")
# A CloudFront distribution's URL, https://{distribution}.cloudfront.net (its DomainName locally): the local server
# that serves its files, when there is one.
DISTRIBUTION_URL = re.compile(r"(?P<scheme>https)://(?P<api>\w+)\.cloudfront\.net")


def function_arn(name: str, region: str = REGION) -> str:
    """A local function's ARN."""
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"


def parameter_values(template: dict[str, Any], overrides: Mapping[str, str], *,
                     stack_name: str = DEFAULT_STACK_NAME) -> dict[str, str]:  # fmt: skip
    """The pseudo parameters and every parameter's value (override, else default), as CloudFormation takes them;
    SystemExit naming a parameter that has no value, or a value it does not allow, or an unknown override."""
    values = {**PSEUDO_PARAMETERS, "AWS::StackName": stack_name}
    parameters = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(parameters))
    if unknown:
        raise SystemExit(f"--parameter-overrides: the template has no parameter {', '.join(unknown)}")
    for name, parameter in parameters.items():
        value = overrides.get(name, parameter.get("Default"))
        if value is None:
            raise SystemExit(f"parameter {name} has no default: pass --parameter-overrides {name}=VALUE")
        # As CloudFormation: a CommaDelimitedList's constraints hold for each of its items.
        items = str(value).split(",") if parameter.get("Type") == "CommaDelimitedList" else [str(value)]
        allowed = [str(choice) for choice in parameter.get("AllowedValues", [])]
        pattern = parameter.get("AllowedPattern")
        for item in items:
            if allowed and item not in allowed:
                raise SystemExit(f"parameter {name}={value} is not one of {', '.join(allowed)}")
            if pattern is not None and re.fullmatch(pattern, item) is None:
                shown = "(hidden)" if parameter.get("NoEcho") in (True, "true") else value
                raise SystemExit(f"parameter {name}={shown} does not match {pattern}")
        values[name] = str(value)
    return values


def read_template(path: Path, overrides: Mapping[str, str] | None = None, *,
                  stack_name: str = DEFAULT_STACK_NAME) -> tuple[dict[str, Any], dict[str, str]]:  # fmt: skip
    """The one way the local stack reads a template: as SAM's translator expands it, with its parameter values."""
    source = load_template(path)
    parameters = parameter_values(source, overrides or {}, stack_name=stack_name)
    template = expand(source, parameters)
    conditions = LocalResolver(template, parameters)
    for section in ("Resources", "Outputs"):  # what a false condition leaves out, CloudFormation does not create
        entries = template.get(section, {})
        template[section] = {name: entry for name, entry in entries.items()
                             if "Condition" not in entry or conditions.condition(entry["Condition"])}  # fmt: skip
    return template, parameters


class LocalResolver:
    """Resolves intrinsic functions and conditions to local values: parameters to their values, resources to
    their local names, an API's execute-api URL to the local server that serves it."""

    def __init__(self, template: dict[str, Any], overrides: Mapping[str, str]) -> None:
        self.template = template
        self.values: dict[str, str] = dict(PSEUDO_PARAMETERS)
        for name, parameter in template.get("Parameters", {}).items():
            if "Default" in parameter:
                self.values.setdefault(name, str(parameter["Default"]))
        self.values.update(overrides)
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name: str) -> bool:
        """A named condition's value (conditions may use others)."""
        if name not in self.conditions:
            expression = self.template.get("Conditions", {}).get(name)
            if expression is None:
                raise ValueError(f"unknown condition {name}")
            self.conditions[name] = bool(self.resolve(expression))
        return self.conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            return value
        ((name, argument),) = value.items()
        if name == "Ref":
            if argument == "AWS::NoValue":
                return None
            if argument not in self.values and self._type_of(argument) in (ALIAS, VERSION):
                return self._qualified_arn(argument)
            value = self.values.get(argument, argument)
            kind = str(self.template.get("Parameters", {}).get(argument, {}).get("Type", ""))
            return value.split(",") if kind == "CommaDelimitedList" or kind.startswith("List<") else value
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::Sub":
            text, extra = (argument, {}) if isinstance(argument, str) else argument
            lookup = {**self.values, **{k: str(self.resolve(v)) for k, v in extra.items()}}
            return self._localise(re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), lookup), text))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Fn::Equals":
            left, right = self.resolve(argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.resolve(argument[0])
        if name == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if name == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        if name == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._attribute(parts[0], str(self.resolve(parts[1])))
        if name == "Fn::Join":
            separator, parts = argument
            return self._localise(str(separator).join(str(p) for p in self.resolve(parts) if p is not None))
        if name == "Fn::Select":
            index, items = argument
            return self.resolve(self.resolve(items)[int(self.resolve(index))])
        if name == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(str(separator))
        if name == "Fn::FindInMap":
            mapping, first, second = (self.resolve(part) for part in argument)
            return self.template["Mappings"][mapping][first][second]
        if name == "Fn::Base64":
            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        if name == "Fn::GetAZs":
            return [f"{self.values['AWS::Region']}{zone}" for zone in "abc"]
        return {name: self.resolve(argument)}

    def _sub(self, name: str, lookup: Mapping[str, str]) -> str:
        if name in lookup:
            return str(lookup[name])
        if "." in name:
            resource, attribute = name.split(".", 1)
            return str(self._attribute(resource, attribute))
        return name

    def _attribute(self, resource: str, attribute: str) -> Any:
        key = f"{resource}.{attribute}"
        if key not in self.values and attribute == "Arn" and self._type_of(resource) == FUNCTION:
            return function_arn(str(self.resolve({"Ref": resource})), self.values["AWS::Region"])
        if key not in self.values and attribute == "Version" and self._type_of(resource) == VERSION:
            return LOCAL_VERSION
        if key not in self.values and attribute == "DomainName" and self._type_of(resource) == DISTRIBUTION:
            return f"{resource}.cloudfront.net"
        return self.values.get(key, key)

    def _qualified_arn(self, logical_id: str) -> str:
        """What Ref gives for an alias or a version: the function's ARN with the alias name or version."""
        props = self.template["Resources"][logical_id].get("Properties", {})
        function = self.resolve(props["FunctionName"])
        arn = function if str(function).startswith("arn:") else function_arn(str(function), self.values["AWS::Region"])
        qualifier = props.get("Name") if self._type_of(logical_id) == ALIAS else LOCAL_VERSION
        return f"{arn}:{self.resolve(qualifier)}"

    def _type_of(self, logical_id: str) -> str:
        return str(self.template.get("Resources", {}).get(logical_id, {}).get("Type", ""))

    def _localise(self, text: str) -> str:
        """An API's AWS URL (https://{api}.execute-api.{region}.amazonaws.com[/{stage}]) as its local base URL, and a
        distribution's (https://{distribution}.cloudfront.net) as the local server of its files."""

        def local(found: re.Match[str]) -> str:
            url = self.values.get(f"{found['api']}.LocalUrl")
            if url is None:
                return found.group(0)
            return url.replace("http://", "ws://", 1) if found["scheme"] == "wss" else url

        return DISTRIBUTION_URL.sub(local, API_URL.sub(local, text))
