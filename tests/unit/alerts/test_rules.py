"""Alert rule conditions, message templates, the evaluator and the default rules."""

from __future__ import annotations

import math
import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from alphapulse.alerts.logic.defaults import default_rules
from alphapulse.alerts.logic.rules import evaluate, render_message
from alphapulse.alerts.models import (
    MESSAGE_MAX_LENGTH,
    AlertEvent,
    AlertRule,
    AlertRuleInput,
    check_message_template,
    parse_condition,
)

RULE = {
    "name": "r",
    "metric_name": "m",
    "condition": "> 1",
    "severity": "info",
    "message_template": "{value}",
}
PYTHON = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("> 0.1", 0.2, True),
        ("> 0.1", 0.1, False),
        (">= 0.1", 0.1, True),
        ("< 0.5", 0.49, True),
        ("< 0.5", 0.5, False),
        ("<= 0.5", 0.5, True),
        ("== 3", 3, True),
        ("== 3", 3.0001, False),
        ("!= 3", 3.0001, True),
        ("!= 3", 3, False),
        ("> -1e3", -999, True),
        ("<.5", 0.25, True),
        ("  >=   +2.  ", 2, True),
    ],
)
def test_evaluate_condition_compares(condition: str, value: float, expected: bool) -> None:
    assert evaluate(condition, value) is expected


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("condition", ["> 0", "< 0", "!= 0", "== 0", ">= 0", "<= 0"])
def test_evaluate_non_finite_value_never_meets(condition: str, value: float) -> None:
    assert evaluate(condition, value) is False


@given(
    op=st.sampled_from(sorted(PYTHON)),
    threshold=st.floats(allow_nan=False, allow_infinity=False, width=64),
    value=st.floats(allow_nan=False, allow_infinity=False),
)
def test_evaluate_matches_python_comparison(op: str, threshold: float, value: float) -> None:
    assert evaluate(f"{op} {threshold!r}", value) is PYTHON[op](value, threshold)


@pytest.mark.parametrize(
    "condition",
    ["", " ", "0.1", ">", "> ", "=> 1", "= 1", "=< 1", "<> 1", "> 1 2", "> 1.2.3", "> inf", "> nan", "> 1e999",
     "> 0x1F", "> 1_000", "> \u0661", "≥ 1", "> 1; drop", "> " + "9" * 70],
)  # fmt: skip
def test_parse_condition_invalid_raises(condition: str) -> None:
    with pytest.raises(ValueError):
        parse_condition(condition)
    with pytest.raises(ValueError):
        evaluate(condition, 1.0)


def test_rule_input_condition_is_normalised() -> None:
    assert AlertRuleInput.model_validate({**RULE, "condition": "<=-0.5"}).condition == "<= -0.5"
    assert AlertRuleInput.model_validate({**RULE, "condition": " !=  1e-3 "}).condition == "!= 1e-3"


@pytest.mark.parametrize(
    "template",
    [
        "plain",
        "{value:d}",
        "{value!z}",
        "{value.real}",
        "{value[0]}",
        "{other} {value}",
        "{value",
        "value}",
        "{}",
        "{0}",
        "{value:>500}",
        "{value:.100f}",
        "{value:{threshold}}",
        "{threshold}",
        "{metric_name:.2f} {value}",
    ],
)
def test_message_template_invalid_raises(template: str) -> None:
    with pytest.raises(ValueError):
        check_message_template(template)
    with pytest.raises(ValidationError):
        AlertRuleInput.model_validate({**RULE, "message_template": template})


@pytest.mark.parametrize(
    "template",
    [
        "{value}",
        "Value {value:.2f} > {threshold}",
        "{metric_name} is {value:.1%} ({condition}) {{literal}}",
        "{value!r} {value:>10,.2f}",
    ],
)
def test_message_template_valid_is_kept(template: str) -> None:
    assert check_message_template(template) == template


def test_rule_input_defaults() -> None:
    rule = AlertRuleInput.model_validate(RULE)
    assert (rule.description, rule.cooldown_seconds, rule.enabled) == ("", 0, True)


@pytest.mark.parametrize("cooldown", [-1, 30 * 86400 + 1, 1.5, "x"])
def test_rule_input_bad_cooldown_raises(cooldown: object) -> None:
    with pytest.raises(ValidationError):
        AlertRuleInput.model_validate({**RULE, "cooldown_seconds": cooldown})


def test_default_rules_match_design_table() -> None:
    table = {
        (rule.rule_id, rule.metric_name, rule.condition, rule.severity, rule.cooldown_seconds)
        for rule in default_rules()
    }
    assert table == {
        ("sharpe_ratio_low", "sharpe_ratio", "< 0.5", "warning", 3600),
        ("drawdown_high", "max_drawdown", "> 0.1", "error", 1800),
        ("portfolio_leverage", "leverage", "> 1.5", "error", 1800),
        ("var_high", "var_95", "> 0.05", "warning", 3600),
        ("high_slippage", "avg_slippage", "> 0.002", "warning", 3600),
        ("low_fill_rate", "fill_rate", "< 0.95", "warning", 3600),
        ("high_memory_usage", "memory_usage_percent", "> 85", "warning", 1800),
        ("high_cpu_usage", "cpu_usage_percent", "> 90", "warning", 1800),
        ("high_api_latency", "api_p95_latency", "> 1000", "warning", 1800),
        ("high_api_error_rate", "api_error_rate", "> 0.05", "error", 1800),
    }
    assert len(default_rules()) == 10
    assert all(rule.enabled for rule in default_rules())


def test_render_message_fills_value_and_threshold() -> None:
    rules = {rule.rule_id: rule for rule in default_rules()}
    assert render_message(rules["drawdown_high"], 0.1234) == "Max drawdown is 12.34%, above 10%"
    assert render_message(rules["high_cpu_usage"], 93.26) == "CPU usage is 93.3%, above 90%"


def test_render_message_every_default_rule_formats() -> None:
    for rule in default_rules():
        message = render_message(rule, 1.0)
        assert message and "{" not in message


@pytest.mark.parametrize(
    ("template", "value"),
    [("{value:f} " * 51, 1e300), ("{value:>99}" * 46, 1.0)],  # valid templates, 15,800 and 4,554 characters
)
def test_render_message_is_bounded_for_any_value(template: str, value: float) -> None:
    # A template that renders over an alert message's limit must still give a valid alert message.
    rule = AlertRule.model_validate({**RULE, "rule_id": "wide", "message_template": template})
    message = render_message(rule, value)
    assert len(message) <= MESSAGE_MAX_LENGTH
    AlertEvent.model_validate(
        {
            "message": message,
            "severity": "warning",
            "source": "test",
            "status": "firing",
            "timestamp": "2026-01-01T00:00:00Z",
        }
    )


def test_stored_rule_round_trips() -> None:
    rule = AlertRule.model_validate({**RULE, "rule_id": "abc"})
    assert AlertRule.model_validate(rule.model_dump()) == rule
