"""EventBridge event patterns and SNS filter policies: one content-filtering grammar, matched locally.

moto matches most of it, but not arrays of objects (EventBridge), `$or` and missing parents in
body-scope filter policies, or `equals-ignore-case` on attributes (SNS); so the router matches here.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

_MISSING = object()
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, "=": operator.eq, ">=": operator.ge, ">": operator.gt,
}  # fmt: skip


def matches(pattern: Mapping[str, Any], document: Any) -> bool:
    """Whether `document` (an event, or a message body) matches an EventBridge-style pattern."""
    if not isinstance(document, dict):
        return False
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(branch, document) for branch in rule):
                return False
            continue
        value = document.get(key, _MISSING)
        if isinstance(rule, dict):
            objects = value if isinstance(value, list) else [value]
            nested = [item if isinstance(item, dict) else {} for item in objects]
            # A nested pattern holds when one object (one array element) satisfies it whole.
            if not any(matches(rule, item) for item in nested):
                return False
        elif not _leaf_matches(rule, value):
            return False
    return True


def filter_policy_matches(policy: Mapping[str, Any], scope: str, message: str, attributes: Mapping[str, Any]) -> bool:
    """Whether an SNS message passes a subscription's filter policy (scope MessageAttributes or MessageBody)."""
    if not policy:
        return True
    if scope == "MessageBody":
        try:
            body = json.loads(message)
        except ValueError:
            return False
        return matches(policy, body)
    return matches(policy, attribute_values(attributes))


def attribute_values(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """SNS message attributes ({name: {Type, Value}}) as the values filter policies compare."""
    values: dict[str, Any] = {}
    for name, attribute in attributes.items():
        kind, raw = attribute.get("Type", "String"), attribute.get("Value")
        if kind.startswith("Number"):
            values[name] = float(raw)
        elif kind == "String.Array":
            try:
                values[name] = json.loads(raw)
            except ValueError:
                values[name] = raw
        elif kind.startswith("String"):
            values[name] = raw
        # Binary attributes take no part in filtering.
    return values


def _leaf_matches(rules: list[Any], value: Any) -> bool:
    if value is _MISSING or isinstance(value, dict):  # only leaves exist for matching
        return any(isinstance(rule, dict) and rule.get("exists") is False for rule in rules)
    values = value if isinstance(value, list) else [value]
    for rule in rules:
        if isinstance(rule, dict) and "exists" in rule:
            if rule["exists"] is True:
                return True
            continue
        if any(_value_matches(rule, item) for item in values):
            return True
    return False


def _value_matches(rule: Any, value: Any) -> bool:
    if not isinstance(rule, dict):
        return _equal(rule, value)
    ((name, argument),) = rule.items()
    if name == "anything-but":
        if isinstance(argument, dict):
            return not _value_matches(argument, value)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_equal(item, value) for item in excluded)
    if name == "numeric":
        if not _is_number(value):
            return False
        pairs = zip(argument[::2], argument[1::2], strict=True)
        return all(_COMPARE[op](value, bound) for op, bound in pairs)
    if name == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(argument, strict=False)
        except (TypeError, ValueError):
            return False
    if not isinstance(value, str):
        return False
    options = argument if isinstance(argument, list) else [argument]
    return any(_string_matches(name, option, value) for option in options)


def _string_matches(name: str, option: Any, value: str) -> bool:
    folded = isinstance(option, dict)  # {"prefix": {"equals-ignore-case": "..."}}
    text: str = option["equals-ignore-case"] if folded else option
    if folded or name == "equals-ignore-case":
        text, value = text.casefold(), value.casefold()
    if name == "prefix":
        return value.startswith(text)
    if name == "suffix":
        return value.endswith(text)
    if name == "equals-ignore-case":
        return value == text
    if name == "wildcard":
        return re.fullmatch(_wildcard_regex(text), value) is not None
    raise ValueError(f"unsupported pattern operator {name!r}")


def _wildcard_regex(pattern: str) -> str:
    """`*` is any run of characters; `\\*` a literal star."""
    parts = re.split(r"(\\\*|\*)", pattern)
    return "".join(".*" if part == "*" else re.escape("*" if part == "\\*" else part) for part in parts)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(rule: Any, value: Any) -> bool:
    if _is_number(rule) or _is_number(value):
        return _is_number(rule) and _is_number(value) and float(rule) == float(value)
    return type(rule) is type(value) and bool(rule == value)
