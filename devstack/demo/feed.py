"""A demo trading feed for the local stack: realistic events through the real ingest path.

Every `interval` seconds, for each tenant, `DemoMarket` makes the next events of a small simulated
desk, and `DemoFeed` sends them the way the trading engine and an external alerting system would:
`events.put_events` on the bus (TradeExecuted, PortfolioUpdated, MetricsReported,
SystemStatusReported) and `sns.publish` on the alerts topic. So the dashboard is alive from the
first second, and what it shows went through validation, storage, the rules engine and the pushes.

Now and then the desk goes through a stress episode: leverage, API latency and CPU cross the default
rules' thresholds for a while, so alerts fire (through the rules engine) and resolve on their own.
An external monitor also raises and later resolves a market-data alert straight on the topic.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from alphapulse.alerts.repositories.topic import message_attributes
from alphapulse.core.times import iso, utcnow

SOURCE = "alphapulse.trading"
PRICES = {"AAPL": 228.0, "MSFT": 415.0, "NVDA": 142.0, "AMZN": 205.0, "BTC-USD": 91_000.0}
STRESS_EVERY = 40  # ticks between the starts of two stress episodes
STRESS_LENGTH = 10  # ticks a stress episode lasts
OUTAGE_EVERY = 55  # ticks between two external market-data alerts
OUTAGE_LENGTH = 12
PUT_EVENTS_BATCH = 10  # EventBridge's limit per PutEvents call

log = logging.getLogger("devstack.demo.feed")


@dataclass(frozen=True)
class Entry:
    """One thing to send: an EventBridge event (`detail_type`, `body`) or an SNS alert message (`body`)."""

    kind: Literal["event", "alert"]
    body: dict[str, Any]
    detail_type: str | None = None


@dataclass
class DemoMarket:
    """One tenant's simulated desk; `tick(now)` gives its next entries. Deterministic for a given `rng`."""

    tenant_id: str
    rng: random.Random
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    prices: dict[str, float] = field(default_factory=lambda: dict(PRICES))
    holdings: dict[str, float] = field(
        default_factory=lambda: {"AAPL": 120.0, "MSFT": 60.0, "NVDA": 200.0, "BTC-USD": 0.8}
    )
    entry_prices: dict[str, float] = field(default_factory=dict)
    cash: float = 250_000.0
    ticks: int = 0
    trades: int = 0

    def __post_init__(self) -> None:
        for symbol in self.holdings:
            self.entry_prices.setdefault(symbol, round(self.prices[symbol] * 0.92, 2))

    def tick(self, now: datetime) -> list[Entry]:
        """The entries of the next tick at `now`."""
        self.ticks += 1
        self._move_prices()
        entries = [self._trade(now) for _ in range(self.rng.choice((1, 1, 2)))]
        if self.ticks % 3 == 1:
            entries.append(self._event("PortfolioUpdated", self._portfolio(now)))
        if self.ticks % 2 == 1:
            entries.append(self._event("MetricsReported", self._metrics(now)))
        if self.ticks % 5 == 1:
            entries.append(self._event("SystemStatusReported", self._system(now)))
        entries.extend(self._external_alert(now))
        return entries

    @property
    def stressed(self) -> bool:
        return self.ticks % STRESS_EVERY >= STRESS_EVERY - STRESS_LENGTH

    def _event(self, detail_type: str, detail: dict[str, Any]) -> Entry:
        return Entry("event", {"tenant_id": self.tenant_id, **detail}, detail_type)

    def _move_prices(self) -> None:
        for symbol, price in self.prices.items():
            self.prices[symbol] = round(max(price * self.rng.gauss(1.0, 0.002), 0.01), 2)

    def _trade(self, now: datetime) -> Entry:
        self.trades += 1
        symbol = self.rng.choice(list(self.prices))
        side = self.rng.choice(("buy", "sell"))
        quantity = round(self.rng.uniform(0.01, 0.5), 4) if symbol == "BTC-USD" else float(self.rng.randint(5, 150))
        price = round(self.prices[symbol] * self.rng.uniform(0.999, 1.001), 2)
        status = self.rng.choices(("filled", "partially_filled", "canceled"), weights=(90, 7, 3))[0]
        if status != "canceled":
            signed = quantity if side == "buy" else -quantity
            held = self.holdings.get(symbol, 0.0)
            if held + signed > 0:
                self.entry_prices.setdefault(symbol, price)
                self.holdings[symbol] = round(held + signed, 4)
                self.cash = round(self.cash - signed * price, 2)
        return self._event(
            "TradeExecuted",
            {
                "trade_id": f"DEMO-{self.tenant_id}-{self.run_id}-{self.trades:06d}",
                "symbol": symbol,
                "side": side,
                "quantity": quantity,
                "price": price,
                "fees": round(quantity * price * 0.0005, 2),
                "status": status,
                "order_type": self.rng.choice(("market", "limit")),
                "executed_at": iso(now),
                "strategy": self.rng.choice(("momentum", "mean_reversion", None)),
            },
        )

    def _portfolio(self, now: datetime) -> dict[str, Any]:
        positions = [
            {
                "symbol": symbol,
                "quantity": quantity,
                "entry_price": self.entry_prices[symbol],
                "current_price": self.prices[symbol],
            }
            for symbol, quantity in sorted(self.holdings.items())
            if quantity > 0
        ]
        return {
            "as_of": iso(now),
            "cash": self.cash,
            "positions": positions,
            "metrics": {
                "sharpe_ratio": round(self.rng.gauss(1.4, 0.1), 3),
                "sortino_ratio": round(self.rng.gauss(1.9, 0.1), 3),
                "max_drawdown": round(abs(self.rng.gauss(0.06, 0.01)), 4),
                "volatility": round(abs(self.rng.gauss(0.18, 0.02)), 4),
                "return_since_inception": round(self.rng.gauss(0.12, 0.01), 4),
            },
        }

    def _metrics(self, now: datetime) -> dict[str, Any]:
        stressed = self.stressed
        return {
            "timestamp": iso(now),
            "metrics": {
                "sharpe_ratio": round(self.rng.gauss(1.3, 0.2), 3),
                "max_drawdown": round(abs(self.rng.gauss(0.06, 0.015)), 4),
                "var_95": round(abs(self.rng.gauss(0.03, 0.006)), 4),
                "leverage": round(self.rng.uniform(1.55, 1.75) if stressed else self.rng.uniform(1.0, 1.4), 3),
                "avg_slippage": round(abs(self.rng.gauss(0.0009, 0.0003)), 5),
                "fill_rate": round(self.rng.uniform(0.96, 1.0), 4),
                "api_p95_latency": round(self.rng.uniform(1050, 1400) if stressed else self.rng.uniform(80, 400), 1),
                "api_error_rate": round(self.rng.uniform(0.0, 0.02), 4),
            },
            "labels": {"env": "demo", "desk": "equities"},
        }

    def _system(self, now: datetime) -> dict[str, Any]:
        cpu = self.rng.uniform(91, 98) if self.stressed else self.rng.uniform(20, 60)
        used = round(self.rng.uniform(8000, 11000), 1)
        return {
            "timestamp": iso(now),
            "cpu": {"usage_percent": round(cpu, 1), "cores": 8},
            "memory": {"total_mb": 16384, "used_mb": used, "percent": round(used / 16384 * 100, 1)},
            "disk": {"total_gb": 500, "used_gb": 212, "percent": 42.4},
            "process": {"pid": 4242, "memory_mb": 812, "threads": 36, "uptime_seconds": 3600 + self.ticks * 2},
        }

    def _external_alert(self, now: datetime) -> list[Entry]:
        phase = self.ticks % OUTAGE_EVERY
        if phase not in (OUTAGE_EVERY - OUTAGE_LENGTH, 0):
            return []
        firing = phase != 0
        message = {
            "tenant_id": self.tenant_id,
            "title": "Market data feed lagging",
            "message": "Quotes from the primary feed are 4.2 s behind" if firing else "The primary feed caught up",
            "severity": "critical" if firing else "info",
            "source": "prometheus",
            "metric_name": "market_data_lag_seconds",
            "metric_value": 4.2 if firing else 0.3,
            "labels": {"feed": "primary"},
            "dedup_key": "prometheus:market-data-lag:primary",
            "status": "firing" if firing else "resolved",
            "timestamp": iso(now),
        }
        return [Entry("alert", message)]


class DemoFeed:
    """Sends every tenant's DemoMarket entries to the bus and the topic, every `interval` seconds, on a
    daemon thread. Send failures are logged; the feed goes on."""

    def __init__(
        self,
        *,
        aws_endpoint: str,
        bus_name: str,
        topic_arn: str,
        tenants: Sequence[str],
        interval: float = 2.0,
        seed: int | None = None,
    ) -> None:
        self.aws_endpoint = aws_endpoint
        self.bus_name = bus_name
        self.topic_arn = topic_arn
        self.interval = interval
        rng = random.Random(seed)  # noqa: S311 (demo data, not security)
        self.markets = [DemoMarket(tenant, random.Random(rng.random())) for tenant in tenants]  # noqa: S311
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DemoFeed:
        self._thread = threading.Thread(target=self._run, name="demo-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(10.0, self.interval * 2))
            self._thread = None

    def send_tick(self, now: datetime | None = None) -> int:
        """Send one tick of every tenant; the number of entries AWS accepted."""
        moment = now or utcnow()
        entries = [entry for market in self.markets for entry in market.tick(moment)]
        events, sns = self._clients()
        accepted = 0
        batch = [
            {"Source": SOURCE, "DetailType": entry.detail_type, "Detail": json.dumps(entry.body),
             "EventBusName": self.bus_name}
            for entry in entries
            if entry.kind == "event"
        ]  # fmt: skip
        for start in range(0, len(batch), PUT_EVENTS_BATCH):
            result = events.put_events(Entries=batch[start : start + PUT_EVENTS_BATCH])
            accepted += len(batch[start : start + PUT_EVENTS_BATCH]) - int(result.get("FailedEntryCount", 0))
        for entry in entries:
            if entry.kind == "alert":
                sns.publish(TopicArn=self.topic_arn, Message=json.dumps(entry.body),
                            MessageAttributes=message_attributes(entry.body))  # as the rules engine's  # fmt: skip
                accepted += 1
        self.sent += accepted
        return accepted

    def _clients(self) -> tuple[Any, Any]:
        if not hasattr(self, "_events"):
            import boto3

            # moto takes any credentials; these are not secrets.
            session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")  # noqa: S106
            self._events = session.client("events", endpoint_url=self.aws_endpoint)
            self._sns = session.client("sns", endpoint_url=self.aws_endpoint)
        return self._events, self._sns

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_tick()
            except Exception:  # the demo goes on; the local stack may be starting or stopping
                log.exception("demo feed tick failed")
            self._stop.wait(self.interval)
