"""Ingest: store each incoming event once, and push what it changed to the tenant's subscribers once.

Idempotency is natural, from the events' own identities, rather than Powertools Idempotency: a
trade by `trade_id`, a portfolio by `as_of`, metric points by (name, timestamp, labels), the
system status by its timestamp, alerts by dedup key (or id) and timestamp (`alerts.logic.lifecycle.fire`). Every
write is conditional on that identity, so a redelivery writes nothing, and the write says whether
it was new: no second table of idempotency records, and no window in which a record and the data
disagree.

Pushing once, when a publish can fail after the write succeeded: the write stores a claim on the
item it changed (`core.claims`), in the same write. After publishing, the claim is
cleared. A redelivery (or Lambda's retry) whose write finds its event already stored looks for its
own event's claim: when it is still there, the earlier attempt stored but did not push, so this one
takes the claim over and pushes. While the claim's lease runs (the earlier invocation may still be
publishing), the redelivery raises PushInProgressError and Lambda retries it later; a publish that
fails gives its lease up at once. What remains is at least once: a crash after publishing but before
the claim is cleared pushes again on the retry.

Pushes go through the `publish` callable it is given (`realtime.wiring.publish`), so this module does
not know how pushes travel.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from alphapulse.alerts.logic.lifecycle import fire
from alphapulse.alerts.models import Alert, AlertEvent
from alphapulse.alerts.repositories.alerts import AlertRepository
from alphapulse.cache.models import Changed
from alphapulse.core.claims import DEFAULT_LEASE_SECONDS, Claim, ClaimTarget, release_all
from alphapulse.core.errors import DataAccessError
from alphapulse.core.observability import get_logger
from alphapulse.core.times import iso
from alphapulse.ingest.models import MetricsReported, PortfolioUpdated, SystemStatusReported, TradeExecuted
from alphapulse.metrics.models import labels_digest
from alphapulse.metrics.repositories import MetricRepository
from alphapulse.portfolio.logic import get_portfolio
from alphapulse.portfolio.models import PortfolioSnapshot
from alphapulse.portfolio.repositories import PortfolioRepository
from alphapulse.realtime.protocol import Publisher
from alphapulse.system.repositories import SystemRepository
from alphapulse.trades.repositories import TradeRepository


class PushInProgressError(RuntimeError):
    """Another invocation holds the push of this event; Lambda retries this one later."""


class Push(NamedTuple):
    """One push to the subscribers of a tenant's channel."""

    tenant_id: str
    channel: str
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class IngestStores:
    """The repositories of the data table that ingestion writes to."""

    trades: TradeRepository
    portfolio: PortfolioRepository
    metrics: MetricRepository
    system: SystemRepository
    alerts: AlertRepository


@dataclass(frozen=True)
class _Owed:
    """A push that the claim on `targets` is owed."""

    targets: Sequence[ClaimTarget]
    claim: Claim
    push: Push


class _Clock(Protocol):
    def __call__(self) -> float: ...


# --- trading events ------------------------------------------------------------------------------


def ingest_trading_event(
    detail: TradeExecuted | PortfolioUpdated | MetricsReported | SystemStatusReported,
    stores: IngestStores,
    publish: Publisher,
    *,
    changed: Changed,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    clock: _Clock = time.time,
) -> list[Push]:
    """Store one validated trading event, invalidate the cached responses it changes and push what was new;
    the pushes made (none for a duplicate)."""
    ingest = _Ingest(publish=publish, changed=changed, lease_seconds=lease_seconds, clock=clock)
    if isinstance(detail, TradeExecuted):
        owed = ingest.trade(stores.trades, detail)
    elif isinstance(detail, PortfolioUpdated):
        owed = ingest.portfolio(stores.portfolio, detail)
    elif isinstance(detail, MetricsReported):
        owed = ingest.metrics(stores.metrics, detail)
    else:
        owed = ingest.system(stores.system, detail)
    return ingest.deliver(owed)


def ingest_alert(
    event: AlertEvent,
    store: AlertRepository,
    publish: Publisher,
    *,
    changed: Changed,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    clock: _Clock = time.time,
) -> list[Push]:
    """Apply one alert message (the lifecycle of `alerts.fire`), invalidate the cached alerts and push the
    change, if any."""
    ingest = _Ingest(publish=publish, changed=changed, lease_seconds=lease_seconds, clock=clock)
    return ingest.deliver(ingest.alert(store, event))


def alert_push(tenant_id: str, alert: Alert) -> Push:
    """The push of an alert's state: `alert` while it fires, `alert_update` once acknowledged or resolved."""
    kind = "alert" if alert.status == "firing" else "alert_update"
    return Push(tenant_id, "alerts", kind, alert.model_dump(mode="json"))


class _Ingest:
    def __init__(self, *, publish: Publisher, changed: Changed, lease_seconds: float, clock: _Clock) -> None:
        self.publish = publish
        self.changed = changed
        self.lease_seconds = lease_seconds
        self.clock = clock

    def claim(self, identity: str) -> Claim:
        return Claim.new(identity, now=self.clock(), lease_seconds=self.lease_seconds)

    def trade(self, repo: TradeRepository, detail: TradeExecuted) -> _Owed | None:
        tenant_id, trade, version = detail.tenant_id, detail.trade(), detail.version()
        # A trade is reported again when it changes (DESIGN section 6): each report owes its own push.
        identity = f"trade:{tenant_id}:{trade.trade_id}:{version}:{trade.content_digest()}"
        claim = self.claim(identity)
        push = Push(tenant_id, "trades", "trade", trade.model_dump(mode="json"))
        target = repo.claim_target(tenant_id, trade.trade_id)
        if repo.claiming(claim).put_trade(tenant_id, trade, version=version):
            return _Owed([target], claim, push)
        return self.recover(target, identity, push)

    def portfolio(self, repo: PortfolioRepository, detail: PortfolioUpdated) -> _Owed | None:
        tenant_id, snapshot = detail.tenant_id, detail.snapshot()
        identity = f"portfolio:{tenant_id}:{iso(snapshot.as_of)}"
        claim = self.claim(identity)
        # The push is what GET /portfolio answers for this snapshot, without history.
        valued = get_portfolio(_OneSnapshot(snapshot), tenant_id).model_dump(mode="json", exclude={"history"})
        push = Push(tenant_id, "portfolio", "portfolio", valued)
        written = repo.claiming(claim).put_snapshot(tenant_id, snapshot)
        if written.latest:
            return _Owed([repo.claim_target(tenant_id)], claim, push)
        if written.stored:
            self.changed(tenant_id, "portfolio")  # a late snapshot: history only; the newer one was pushed
            return None
        return self.recover(repo.claim_target(tenant_id), identity, push)

    def system(self, repo: SystemRepository, detail: SystemStatusReported) -> _Owed | None:
        tenant_id, status = detail.tenant_id, detail.status()
        identity = f"system:{tenant_id}:{iso(status.reported_at)}"
        claim = self.claim(identity)
        push = Push(tenant_id, "system", "system", status.model_dump(mode="json"))
        if repo.claiming(claim).put_status(tenant_id, status):
            return _Owed([repo.claim_target(tenant_id)], claim, push)
        return self.recover(repo.claim_target(tenant_id), identity, push)

    def metrics(self, repo: MetricRepository, detail: MetricsReported) -> _Owed | None:
        tenant_id, labels = detail.tenant_id, detail.labels
        identity = f"metrics:{tenant_id}:{iso(detail.timestamp)}:{labels_digest(labels)}"
        claim = self.claim(identity)
        new = repo.claiming(claim).put_points(tenant_id, detail.timestamp, detail.metrics, labels)
        if not new:
            # A redelivery: the points whose push is still owed, taken over one by one.
            pending = repo.pending_claims(tenant_id, detail.timestamp, detail.metrics, labels)
            mine = {name: seen for name, seen in pending.items() if seen.is_for(identity)}
            if not mine:
                return None
            claim = self.claim(identity)
            for name, seen in mine.items():
                target = repo.claim_target(tenant_id, name, detail.timestamp, labels)
                if not seen.expired(self.clock()) or not target.take_over(seen, claim):
                    raise PushInProgressError("another invocation is pushing these metrics")
            new = sorted(mine)
        data = detail.model_dump(mode="json", include={"timestamp", "labels"})
        data["metrics"] = {name: detail.metrics[name] for name in new}
        targets = [repo.claim_target(tenant_id, name, detail.timestamp, labels) for name in new]
        return _Owed(targets, claim, Push(tenant_id, "metrics", "metrics", data))

    def alert(self, repo: AlertRepository, event: AlertEvent) -> _Owed | None:
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
            return _Owed([target], claim, push)
        return self.recover(target, identity, push)

    def recover(self, target: ClaimTarget, identity: str, push: Push) -> _Owed | None:
        """The push of a redelivered event whose earlier attempt stored but did not push, taken over."""
        seen = target.pending()
        if seen is None or not seen.is_for(identity):
            return None  # pushed already (or superseded by a newer event's own push)
        claim = seen.renewed(now=self.clock(), lease_seconds=self.lease_seconds)
        if not seen.expired(self.clock()) or not target.take_over(seen, claim):
            raise PushInProgressError("another invocation is pushing this event")
        get_logger().info("taking over an unfinished push", extra={"tenant_id": push.tenant_id, "type": push.type})
        return _Owed([target], claim, push)

    def deliver(self, owed: _Owed | None) -> list[Push]:
        """Publish an owed push, then clear its claim. A failed publish gives the claim up at once, so
        that Lambda's retry can take it over without waiting for the lease."""
        if owed is None:
            return []
        try:
            # Written, and so no longer what cached responses show (also when a redelivery takes the push over:
            # the earlier attempt may have stopped before this).
            self.changed(owed.push.tenant_id, owed.push.channel)  # a channel is the cache domain of its data
            self.publish(*owed.push, push_id=owed.claim.event)
        except Exception:
            abandoned = owed.claim.abandoned()
            with contextlib.suppress(DataAccessError):  # then the retry waits for the lease
                for target in owed.targets:
                    target.take_over(owed.claim, abandoned)
            raise
        release_all(owed.targets, owed.claim)
        return [owed.push]


class _OneSnapshot:
    """One snapshot as a PortfolioStore, so that a push is valued exactly as GET /portfolio values it."""

    def __init__(self, snapshot: PortfolioSnapshot) -> None:
        self.snapshot = snapshot

    def latest(self, tenant_id: str) -> PortfolioSnapshot | None:
        return self.snapshot

    def history(self, tenant_id: str, *, start: str, end: str, now: int, limit: int) -> list[Any]:
        return []
