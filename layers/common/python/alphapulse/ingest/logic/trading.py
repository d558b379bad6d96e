"""Ingest of the trading engine's events: a trade, a portfolio snapshot, metric points or the system status,
stored once and pushed once (`pushes` says how)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from alphapulse.cache.models import Changed
from alphapulse.core.claims import DEFAULT_LEASE_SECONDS
from alphapulse.core.times import iso
from alphapulse.ingest.logic.pushes import Clock, Owed, Push, Pusher, PushInProgressError
from alphapulse.ingest.models.trading import MetricsReported, PortfolioUpdated, SystemStatusReported, TradeExecuted
from alphapulse.metrics.models import labels_digest
from alphapulse.metrics.repositories import MetricRepository
from alphapulse.portfolio.logic import get_portfolio
from alphapulse.portfolio.models import PortfolioSnapshot
from alphapulse.portfolio.repositories import PortfolioRepository
from alphapulse.realtime.protocol import Publisher
from alphapulse.system.repositories import SystemRepository
from alphapulse.trades.repositories import TradeRepository


@dataclass(frozen=True)
class TradingStores:
    """The repositories of the data table that trading events are written to."""

    trades: TradeRepository
    portfolio: PortfolioRepository
    metrics: MetricRepository
    system: SystemRepository


def ingest_trading_event(
    detail: TradeExecuted | PortfolioUpdated | MetricsReported | SystemStatusReported,
    stores: TradingStores,
    publish: Publisher,
    *,
    changed: Changed,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    clock: Clock = time.time,
) -> list[Push]:
    """Store one validated trading event, invalidate the cached responses it changes and push what was new;
    the pushes made (none for a duplicate)."""
    ingest = _TradingIngest(publish=publish, changed=changed, lease_seconds=lease_seconds, clock=clock)
    if isinstance(detail, TradeExecuted):
        owed = ingest.trade(stores.trades, detail)
    elif isinstance(detail, PortfolioUpdated):
        owed = ingest.portfolio(stores.portfolio, detail)
    elif isinstance(detail, MetricsReported):
        owed = ingest.metrics(stores.metrics, detail)
    else:
        owed = ingest.system(stores.system, detail)
    return ingest.deliver(owed)


class _TradingIngest(Pusher):
    def trade(self, repo: TradeRepository, detail: TradeExecuted) -> Owed | None:
        tenant_id, trade, version = detail.tenant_id, detail.trade(), detail.version()
        # A trade is reported again when it changes (DESIGN section 6): each report owes its own push.
        identity = f"trade:{tenant_id}:{trade.trade_id}:{version}:{trade.content_digest()}"
        claim = self.claim(identity)
        push = Push(tenant_id, "trades", "trade", trade.model_dump(mode="json"))
        target = repo.claim_target(tenant_id, trade.trade_id)
        if repo.claiming(claim).put_trade(tenant_id, trade, version=version):
            return Owed([target], claim, push)
        return self.recover(target, identity, push)

    def portfolio(self, repo: PortfolioRepository, detail: PortfolioUpdated) -> Owed | None:
        tenant_id, snapshot = detail.tenant_id, detail.snapshot()
        identity = f"portfolio:{tenant_id}:{iso(snapshot.as_of)}"
        claim = self.claim(identity)
        # The push is what GET /portfolio answers for this snapshot, without history.
        valued = get_portfolio(_OneSnapshot(snapshot), tenant_id).model_dump(mode="json", exclude={"history"})
        push = Push(tenant_id, "portfolio", "portfolio", valued)
        written = repo.claiming(claim).put_snapshot(tenant_id, snapshot)
        if written.latest:
            return Owed([repo.claim_target(tenant_id)], claim, push)
        if written.stored:
            self.changed(tenant_id, "portfolio")  # a late snapshot: history only; the newer one was pushed
            return None
        return self.recover(repo.claim_target(tenant_id), identity, push)

    def system(self, repo: SystemRepository, detail: SystemStatusReported) -> Owed | None:
        tenant_id, status = detail.tenant_id, detail.status()
        identity = f"system:{tenant_id}:{iso(status.reported_at)}"
        claim = self.claim(identity)
        push = Push(tenant_id, "system", "system", status.model_dump(mode="json"))
        if repo.claiming(claim).put_status(tenant_id, status):
            return Owed([repo.claim_target(tenant_id)], claim, push)
        return self.recover(repo.claim_target(tenant_id), identity, push)

    def metrics(self, repo: MetricRepository, detail: MetricsReported) -> Owed | None:
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
        return Owed(targets, claim, Push(tenant_id, "metrics", "metrics", data))


class _OneSnapshot:
    """One snapshot as a PortfolioStore, so that a push is valued exactly as GET /portfolio values it."""

    def __init__(self, snapshot: PortfolioSnapshot) -> None:
        self.snapshot = snapshot

    def latest(self, tenant_id: str) -> PortfolioSnapshot | None:
        return self.snapshot

    def history(self, tenant_id: str, *, start: str, end: str, now: int, limit: int) -> list[Any]:
        return []
