"""Parameter values as CloudFormation checks them: AllowedValues and AllowedPattern, item by item for a list."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.template.resolve import parameter_values

TEMPLATE: dict[str, Any] = {"Parameters": {
    "Severities": {"Type": "CommaDelimitedList", "Default": "critical", "AllowedValues": ["warning", "critical"]},
    "Phone": {"Type": "String", "Default": "", "AllowedPattern": r"^$|^\+[1-9][0-9]{6,14}$"},
    "Url": {"Type": "String", "Default": "", "AllowedPattern": r"^$|^https://\S+$", "NoEcho": True},
}}  # fmt: skip


def test_parameter_values_list_items_each_allowed_and_patterns_matched() -> None:
    values = parameter_values(TEMPLATE, {"Severities": "warning,critical", "Phone": "+15551234567",
                                         "Url": "https://hooks.example.com/T0"})  # fmt: skip

    assert (values["Severities"], values["Phone"]) == ("warning,critical", "+15551234567")


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        ({"Severities": "critical,info"}, "parameter Severities=critical,info is not one of warning, critical"),
        ({"Phone": "555-1234"}, "parameter Phone=555-1234 does not match"),
        ({"Url": "http://hooks.example.com/secret-token"}, "parameter Url=(hidden) does not match"),
    ],
)
def test_parameter_values_refuse_what_the_template_does_not_allow(overrides: dict[str, str], said: str) -> None:
    with pytest.raises(SystemExit) as refused:
        parameter_values(TEMPLATE, overrides)

    assert str(refused.value).startswith(said)
    assert "secret-token" not in str(refused.value)
