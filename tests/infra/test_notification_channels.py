"""template.yaml's notification channels: email, SMS and webhook subscriptions of the alerts topic, each there
only when its parameter is given, each filtering on `severity` with its own parameter."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.template.load import resources_of_type
from devstack.template.resolve import LocalResolver, read_template
from tests.infra.test_template import TEMPLATE

pytestmark = pytest.mark.infra

CHANNELS = {"AlertEmailSubscription": ("email", "AlertEmail", "ops@example.com", ["error", "critical"]),
            "AlertSmsSubscription": ("sms", "AlertSmsNumber", "+15551234567", ["critical"]),
            "AlertWebhookSubscription": ("https", "AlertWebhookUrl", "https://hooks.example.com/alerts",
                                         ["warning", "error", "critical"])}  # fmt: skip
SEVERITIES = ["info", "warning", "error", "critical"]  # alphapulse.alerts.models.Severity


def subscriptions(overrides: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The channels (subscriptions but AlertIngestFunction's) as CloudFormation would create them: conditions
    applied, parameters resolved (TopicArn is left as written)."""
    template, parameters = read_template(TEMPLATE, overrides)
    resolver = LocalResolver(template, parameters)
    return {name: {key: value if key == "TopicArn" else resolver.resolve(value)
                   for key, value in resource["Properties"].items()}
            for name, resource in resources_of_type(template, "AWS::SNS::Subscription").items()
            if resource["Properties"]["Protocol"] != "lambda"}  # fmt: skip


def test_template_no_channel_parameters_no_subscriptions() -> None:
    assert subscriptions({}) == {}


@pytest.mark.parametrize("name", CHANNELS)
def test_template_channel_parameter_given_subscribes_it_with_its_default_severities(name: str) -> None:
    protocol, parameter, endpoint, severities = CHANNELS[name]

    (found,) = subscriptions({parameter: endpoint}).items()

    assert found == (name, {"TopicArn": {"Ref": "AlertsTopic"}, "Protocol": protocol, "Endpoint": endpoint,
                            "FilterPolicyScope": "MessageAttributes",
                            "FilterPolicy": {"severity": severities}})  # fmt: skip


def test_template_channel_severities_parameter_sets_the_filter_policy() -> None:
    found = subscriptions({"AlertWebhookUrl": "https://hooks.example.com/a", "AlertWebhookSeverities": "critical",
                           "AlertEmail": "ops@example.com", "AlertEmailSeverities": "warning,critical"})  # fmt: skip

    assert found["AlertWebhookSubscription"]["FilterPolicy"] == {"severity": ["critical"]}
    assert found["AlertEmailSubscription"]["FilterPolicy"] == {"severity": ["warning", "critical"]}


def test_template_channel_severities_allow_exactly_the_alert_model_severities() -> None:
    from typing import get_args

    from alphapulse.alerts.models import Severity

    parameters = read_template(TEMPLATE)[0]["Parameters"]
    for name in ("AlertEmailSeverities", "AlertSmsSeverities", "AlertWebhookSeverities"):
        assert parameters[name]["Type"] == "CommaDelimitedList"
        assert parameters[name]["AllowedValues"] == list(get_args(Severity)) == SEVERITIES


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("AlertEmail", "not-an-address"), ("AlertSmsNumber", "555 1234"), ("AlertWebhookUrl", "http://hooks.example.com"),
     ("AlertSmsSeverities", "critical,fatal")],
)  # fmt: skip
def test_template_channel_parameters_refuse_malformed_values(parameter: str, value: str) -> None:
    with pytest.raises(SystemExit, match=parameter):
        read_template(TEMPLATE, {parameter: value})


def test_template_webhook_url_is_no_echo() -> None:
    # A webhook URL often carries its own secret (a token in the path): CloudFormation must not show it.
    assert read_template(TEMPLATE)[0]["Parameters"]["AlertWebhookUrl"]["NoEcho"] is True
