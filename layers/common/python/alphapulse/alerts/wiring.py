"""The alerts domain's collaborators (core.wiring explains the pattern). The cache and the publisher are imported
at their first use: the rules function uses neither."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from alphapulse.alerts.repositories.alerts import AlertRepository
from alphapulse.alerts.repositories.rules import RuleRepository, RuleStateRepository
from alphapulse.alerts.repositories.topic import AlertTopic
from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider

if TYPE_CHECKING:
    from alphapulse.cache.models import Changed
    from alphapulse.realtime.protocol import Publisher


class AlertsDependencies(Dependencies):
    @cached_property
    def alerts(self) -> AlertRepository:
        """Alerts and their dedup keys (DATA_TABLE)."""
        return AlertRepository(get_settings().require_data_table())

    @cached_property
    def rules(self) -> RuleRepository:
        """Alert rules (DATA_TABLE)."""
        return RuleRepository(get_settings().require_data_table())

    @cached_property
    def rule_states(self) -> RuleStateRepository:
        """The rules engine's state of each rule (DATA_TABLE)."""
        return RuleStateRepository(get_settings().require_data_table())

    @cached_property
    def topic(self) -> AlertTopic:
        """The SNS alerts topic the rules engine publishes to (ALERTS_TOPIC_ARN)."""
        return AlertTopic(get_settings().require("alerts_topic_arn"))

    @cached_property
    def changed(self) -> Changed:
        """Invalidates the cached responses of what a route changed (CACHE_TABLE)."""
        from alphapulse.cache import wiring

        return wiring.changed

    @cached_property
    def publish(self) -> Publisher:
        """Pushes to WebSocket subscribers: the operators' acknowledgements and resolutions."""
        from alphapulse.realtime import wiring

        return wiring.publish


dependencies = Provider(AlertsDependencies)
