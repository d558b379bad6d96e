"""Ingest of the alert messages of the SNS topic, through the alert lifecycle (`alerts.logic.lifecycle.fire`),
each change stored once and pushed once (`pushes` says how)."""

from __future__ import annotations

import time

from alphapulse.alerts.logic.lifecycle import fire
from alphapulse.alerts.models import Alert, AlertEvent
from alphapulse.alerts.repositories.alerts import AlertRepository
from alphapulse.cache.models import Changed
from alphapulse.core.claims import DEFAULT_LEASE_SECONDS
from alphapulse.core.times import iso
from alphapulse.ingest.logic.pushes import Clock, Owed, Push, Pusher
from alphapulse.realtime.protocol import Publisher


def ingest_alert(
    event: AlertEvent,
    store: AlertRepository,
    publish: Publisher,
    *,
    changed: Changed,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    clock: Clock = time.time,
) -> list[Push]:
    """Apply one alert message (the lifecycle of `alerts.fire`), invalidate the cached alerts and push the
    change, if any."""
    ingest = _AlertIngest(publish=publish, changed=changed, lease_seconds=lease_seconds, clock=clock)
    return ingest.deliver(ingest.alert(store, event))


def alert_push(tenant_id: str, alert: Alert) -> Push:
    """The push of an alert's state: `alert` while it fires, `alert_update` once acknowledged or resolved."""
    kind = "alert" if alert.status == "firing" else "alert_update"
    return Push(tenant_id, "alerts", kind, alert.model_dump(mode="json"))


class _AlertIngest(Pusher):
    def alert(self, repo: AlertRepository, event: AlertEvent) -> Owed | None:
        tenant_id = event.tenant_id
        name = event.dedup_key or event.alert_id or ""
        identity = f"alert:{tenant_id}:{name}:{iso(event.timestamp)}:{event.status}"
        claim = self.claim(identity)
        result = fire(repo.claiming(claim), event)
        alert = result.alert
        if alert is None and event.status == "resolved" and event.dedup_key is not None:
            # A redelivered resolution finds no active alert for its key (it resolved it): the alert
            # whose push it may still owe is the one the key's last resolution names.
            alert_id = repo.last_resolved_alert_id(tenant_id, event.dedup_key)
            record = repo.get(tenant_id, alert_id) if alert_id is not None else None
            alert = record.public() if record is not None else None
        if alert is None:
            return None
        push = alert_push(tenant_id, alert)
        target = repo.claim_target(tenant_id, alert.alert_id)
        if result.action != "ignored":
            return Owed([target], claim, push)
        return self.recover(target, identity, push)
