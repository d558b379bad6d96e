"""A demo trading feed for the local stack: realistic events through the real ingest path.

Every `interval` seconds, for each tenant, `DemoMarket` makes the next events of a small simulated
desk, and `DemoFeed` sends them the way the trading engine and an external alerting system would:
`events.put_events` on the bus (TradeExecuted, PortfolioUpdated, MetricsReported,
SystemStatusReported) and `sns.publish` on the alerts topic. So the dashboard is alive from the
first second, and what it shows went through validation, storage, the rules engine and the pushes.

The model (everything is driven by the `now` each tick is given, so a test runs hours in a second):

- **Prices** follow a mean-reverting random walk in log price around their reference (`PRICES`),
  scaled by the time since the last tick: each symbol's annual volatility (`VOLATILITY`) played
  `MARKET_SPEED` times faster than a trading day, pulled back with a half-life of
  `REVERSION_HALF_LIFE`, so a chart moves visibly and never runs away.
- **Trades** (one or two a tick) come from a long-only desk that rebalances toward target weights
  (`TARGET_WEIGHTS`, about half the book invested): the further a symbol is below its target, the
  likelier a buy. A buy is sized from the equity and capped by the cash above a buffer
  (`CASH_BUFFER`) and by `MAX_WEIGHT`; a sell never exceeds what is held. A fill moves the holdings,
  the average entry price and the cash (fees included) exactly as the event says; a canceled order
  moves nothing. So cash never goes negative and a quantity never below zero.
- **The portfolio snapshot** (every `PORTFOLIO_EVERY` s) is the desk's holdings and cash; its
  figures follow from them: return since inception, drawdown from the peak, volatility from the
  weights. **Metrics** (every `METRICS_EVERY` s) report the same figures, leverage as positions
  value / equity, VaR from the volatility, and the slippage of the fills since the last report.
- **Incidents** follow a fixed rhythm (`INCIDENTS`): the first `FIRST_INCIDENT` s after the start,
  then one every `INCIDENT_EVERY` s, each kind in turn, each lasting two or three minutes: API
  latency, CPU and the API error rate cross the default rules' thresholds, execution slippage widens
  (the fills themselves are worse), and an external monitor raises a market-data alert straight on
  the topic (one firing message, one resolved, one dedup key). The rules engine fires and resolves
  the others. A kind comes back every `len(INCIDENTS) * INCIDENT_EVERY` s (62.5 minutes), longer
  than any default rule's cooldown (at most an hour), so each incident is one alert that fires and
  resolves: about five alerts an hour a tenant, each title about once an hour.
"""

from __future__ import annotations

import json
import logging
import math
import random
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from alphapulse.alerts.repositories.topic import message_attributes
from alphapulse.core.times import iso, utcnow

SOURCE = "alphapulse.trading"
PRICES = {"AAPL": 228.0, "MSFT": 415.0, "NVDA": 142.0, "AMZN": 205.0, "BTC-USD": 91_000.0}
VOLATILITY = {"AAPL": 0.25, "MSFT": 0.24, "NVDA": 0.50, "AMZN": 0.32, "BTC-USD": 0.60}  # annual
CORRELATION = 0.4  # between any two symbols, for the portfolio's volatility
MARKET_SPEED = 2.0  # the demo's prices move this many times faster than a real trading day
TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600
REVERSION_HALF_LIFE = 2 * 3600.0  # seconds for a price's distance from its reference to halve
MAX_STEP_SECONDS = 60.0  # a longer gap (a paused laptop) moves prices as this much time would

# The desk's book: the seed's holdings (devstack/demo/data.py), rebalanced toward these weights.
HOLDINGS = {"AAPL": 120.0, "MSFT": 60.0, "NVDA": 200.0, "BTC-USD": 0.8}
START_CASH = 250_000.0
TARGET_WEIGHTS = {"AAPL": 0.10, "MSFT": 0.10, "NVDA": 0.09, "AMZN": 0.06, "BTC-USD": 0.17}
WEIGHT_BAND = 0.04  # a symbol this far below (above) its target is almost always bought (sold)
MAX_WEIGHT = 0.25  # a buy never takes a symbol above this share of the equity
CASH_BUFFER = 0.05  # share of the equity a buy never spends
TRADE_SIZE = (0.001, 0.004)  # a trade's notional, as a share of the equity
LOTS = {"AAPL": 1.0, "MSFT": 1.0, "NVDA": 1.0, "AMZN": 1.0, "BTC-USD": 0.0001}  # whole shares
FEE_RATE = 0.0001
SLIPPAGE = (-0.0003, 0.0005)  # a fill's distance from the mid price, against the desk (below 0: improved)
WIDE_SLIPPAGE = (0.0025, 0.004)  # during a slippage incident (the default rule: > 0.2%)
BASE_RETURN = 0.12  # return since inception when the feed starts (the seeded history's)
BASE_DRAWDOWN = 0.06  # the seeded history's maximum drawdown

PORTFOLIO_EVERY = 6.0  # seconds between two PortfolioUpdated
METRICS_EVERY = 4.0  # seconds between two MetricsReported
SYSTEM_EVERY = 10.0  # seconds between two SystemStatusReported


@dataclass(frozen=True)
class Incident:
    """A stretch of trouble: `kind` names what it disturbs, for `seconds`."""

    kind: Literal["api_latency", "market_data_lag", "cpu", "slippage", "api_errors"]
    seconds: float


INCIDENTS = (
    Incident("api_latency", 180),
    Incident("market_data_lag", 150),
    Incident("cpu", 120),
    Incident("slippage", 180),
    Incident("api_errors", 120),
)
FIRST_INCIDENT = 60.0  # seconds after the feed starts
INCIDENT_EVERY = 750.0  # seconds between the starts of two incidents: a kind recurs every 62.5 minutes
MARKET_DATA_LAG_KEY = "prometheus:market-data-lag:primary"
PUT_EVENTS_BATCH = 10  # EventBridge's limit per PutEvents call

log = logging.getLogger("devstack.demo.feed")


def incident_at(elapsed: float) -> Incident | None:
    """The incident under way `elapsed` seconds after the feed started, if any."""
    if elapsed < FIRST_INCIDENT:
        return None
    number, phase = divmod(elapsed - FIRST_INCIDENT, INCIDENT_EVERY)
    incident = INCIDENTS[int(number) % len(INCIDENTS)]
    return incident if phase < incident.seconds else None


def incident_start(kind: str, occurrence: int = 0) -> float:
    """Seconds after the start at which the `occurrence`-th incident of `kind` begins."""
    index = next(i for i, incident in enumerate(INCIDENTS) if incident.kind == kind)
    return FIRST_INCIDENT + (index + occurrence * len(INCIDENTS)) * INCIDENT_EVERY


@dataclass(frozen=True)
class Entry:
    """One thing to send: an EventBridge event (`detail_type`, `body`) or an SNS alert message (`body`)."""

    kind: Literal["event", "alert"]
    body: dict[str, Any]
    detail_type: str | None = None


@dataclass
class DemoMarket:
    """One tenant's simulated desk; `tick(now)` gives its next entries. Deterministic for a given `rng`
    and sequence of `now`s; the first tick's `now` is the start of the incidents' rhythm."""

    tenant_id: str
    rng: random.Random
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    prices: dict[str, float] = field(default_factory=lambda: dict(PRICES))
    holdings: dict[str, float] = field(default_factory=lambda: dict(HOLDINGS))
    entry_prices: dict[str, float] = field(default_factory=dict)
    cash: float = START_CASH
    ticks: int = 0
    trades: int = 0
    started: datetime | None = None
    last_tick: datetime | None = None
    start_equity: float = 0.0
    peak_equity: float = 0.0
    slippages: list[float] = field(default_factory=list)  # of the fills since the last metrics report
    avg_slippage: float = 0.0005
    lag_alert_open: bool = False
    _last_sent: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for symbol in self.holdings:
            self.entry_prices.setdefault(symbol, round(self.prices[symbol] * 0.92, 2))
        self.start_equity = self.peak_equity = self.equity

    @property
    def equity(self) -> float:
        """Cash plus the positions' value at the current prices."""
        return self.cash + sum(quantity * self.prices[symbol] for symbol, quantity in self.holdings.items())

    def weight(self, symbol: str) -> float:
        return self.holdings.get(symbol, 0.0) * self.prices[symbol] / self.equity

    def tick(self, now: datetime) -> list[Entry]:
        """The entries of the next tick at `now`."""
        self.ticks += 1
        if self.started is None:
            self.started = now
        elapsed = (now - self.started).total_seconds()
        self._move_prices((now - self.last_tick).total_seconds() if self.last_tick else 0.0)
        self.last_tick = now
        incident = incident_at(elapsed)
        kind = incident.kind if incident else None
        entries = [
            trade for _ in range(self.rng.choice((0, 1, 1, 1, 2))) if (trade := self._trade(now, kind)) is not None
        ]
        self.peak_equity = max(self.peak_equity, self.equity)
        if self._due("portfolio", now, PORTFOLIO_EVERY):
            entries.append(self._event("PortfolioUpdated", self._portfolio(now)))
        if self._due("metrics", now, METRICS_EVERY):
            entries.append(self._event("MetricsReported", self._metrics(now, kind)))
        if self._due("system", now, SYSTEM_EVERY):
            entries.append(self._event("SystemStatusReported", self._system(now, elapsed, kind)))
        entries.extend(self._external_alert(now, kind == "market_data_lag"))
        return entries

    def _due(self, what: str, now: datetime, every: float) -> bool:
        last = self._last_sent.get(what)
        if last is not None and (now - last).total_seconds() < every - 0.5:  # half a second of jitter
            return False
        self._last_sent[what] = now
        return True

    def _event(self, detail_type: str, detail: dict[str, Any]) -> Entry:
        return Entry("event", {"tenant_id": self.tenant_id, **detail}, detail_type)

    def _move_prices(self, seconds: float) -> None:
        seconds = min(max(seconds, 0.0), MAX_STEP_SECONDS)
        if not seconds:
            return
        keep = 0.5 ** (seconds / REVERSION_HALF_LIFE)
        for symbol, price in self.prices.items():
            sigma = VOLATILITY[symbol] * MARKET_SPEED * math.sqrt(seconds / TRADING_SECONDS_PER_YEAR)
            distance = math.log(price / PRICES[symbol]) * keep + self.rng.gauss(0.0, sigma)
            self.prices[symbol] = round(PRICES[symbol] * math.exp(distance), 2)

    def _trade(self, now: datetime, incident: str | None) -> Entry | None:
        """The next order, sized to what the desk holds and can pay; None when nothing fits."""
        equity = self.equity
        for symbol in self.rng.sample(list(self.prices), len(self.prices)):
            gap = TARGET_WEIGHTS[symbol] - self.weight(symbol)
            buy_probability = min(max(0.5 + gap / (2 * WEIGHT_BAND), 0.05), 0.95)
            side = "buy" if self.rng.random() < buy_probability else "sell"
            quantity = self._quantity(symbol, side, equity * self.rng.uniform(*TRADE_SIZE), equity)
            if not quantity:
                side = "sell" if side == "buy" else "buy"
                quantity = self._quantity(symbol, side, equity * self.rng.uniform(*TRADE_SIZE), equity)
            if quantity:
                return self._execute(now, symbol, side, quantity, incident == "slippage")
        return None

    def _quantity(self, symbol: str, side: str, notional: float, equity: float) -> float:
        """The order's quantity for about `notional` (one lot at least), within the cash and weight limits
        (buy) or the holding (sell, which sells it all rather than leave less than a lot); 0 when none fits."""
        price = self.prices[symbol] * (1 + WIDE_SLIPPAGE[1])  # the most a buy can pay
        held = self.holdings.get(symbol, 0.0)
        wanted = max(_lot(symbol, notional / price), LOTS[symbol])
        if side == "buy":
            spendable = (self.cash - CASH_BUFFER * equity) / (1 + FEE_RATE)
            room = MAX_WEIGHT * equity - held * self.prices[symbol]
            return min(wanted, _lot(symbol, max(min(spendable, room), 0.0) / price))
        return held if held - wanted < LOTS[symbol] else wanted

    def _execute(self, now: datetime, symbol: str, side: str, quantity: float, wide: bool) -> Entry:
        self.trades += 1
        slip = self.rng.uniform(*(WIDE_SLIPPAGE if wide else SLIPPAGE))
        price = round(self.prices[symbol] * (1 + slip if side == "buy" else 1 - slip), 2)
        status = self.rng.choices(("filled", "partially_filled", "canceled"), weights=(90, 7, 3))[0]
        fees = 0.0 if status == "canceled" else round(quantity * price * FEE_RATE, 2)
        if status != "canceled":  # a partial fill's quantity is what was filled
            self._fill(symbol, side, quantity, price, fees)
            self.slippages.append(slip)
        return self._event(
            "TradeExecuted",
            {
                "trade_id": f"DEMO-{self.tenant_id}-{self.run_id}-{self.trades:06d}",
                "symbol": symbol,
                "side": side,
                "quantity": quantity,
                "price": price,
                "fees": fees,
                "status": status,
                "order_type": self.rng.choice(("market", "limit")),
                "executed_at": iso(now),
                "strategy": self.rng.choice(("momentum", "mean_reversion", None)),
            },
        )

    def _fill(self, symbol: str, side: str, quantity: float, price: float, fees: float) -> None:
        held = self.holdings.get(symbol, 0.0)
        if side == "buy":
            cost = held * self.entry_prices.get(symbol, price) + quantity * price
            self.holdings[symbol] = round(held + quantity, 4)
            self.entry_prices[symbol] = round(cost / self.holdings[symbol], 2)
            self.cash = round(self.cash - quantity * price - fees, 2)
        else:
            self.holdings[symbol] = round(held - quantity, 4)
            self.cash = round(self.cash + quantity * price - fees, 2)
            if not self.holdings[symbol]:
                del self.holdings[symbol], self.entry_prices[symbol]

    def _risk(self) -> dict[str, float]:
        """The book's figures that the portfolio snapshot and the metrics share."""
        equity = self.equity
        weights = {symbol: self.weight(symbol) for symbol in self.holdings}
        variance = sum(
            weights[a] * weights[b] * VOLATILITY[a] * VOLATILITY[b] * (1.0 if a == b else CORRELATION)
            for a in weights
            for b in weights
        )
        volatility = math.sqrt(variance)
        drawdown = 1 - equity / self.peak_equity
        return {
            "leverage": sum(weights.values()),
            "volatility": volatility,
            "var_95": 1.645 * volatility / math.sqrt(252),
            "max_drawdown": max(BASE_DRAWDOWN, drawdown),
            "return_since_inception": (1 + BASE_RETURN) * equity / self.start_equity - 1,
            "sharpe_ratio": 1.4 + self.rng.gauss(0.0, 0.03),
        }

    def _portfolio(self, now: datetime) -> dict[str, Any]:
        risk = self._risk()
        positions = [
            {
                "symbol": symbol,
                "quantity": quantity,
                "entry_price": self.entry_prices[symbol],
                "current_price": self.prices[symbol],
            }
            for symbol, quantity in sorted(self.holdings.items())
        ]
        return {
            "as_of": iso(now),
            "cash": self.cash,
            "positions": positions,
            "metrics": {
                "sharpe_ratio": round(risk["sharpe_ratio"], 3),
                "sortino_ratio": round(risk["sharpe_ratio"] * 1.35, 3),
                "max_drawdown": round(risk["max_drawdown"], 4),
                "volatility": round(risk["volatility"], 4),
                "return_since_inception": round(risk["return_since_inception"], 4),
            },
        }

    def _metrics(self, now: datetime, incident: str | None) -> dict[str, Any]:
        risk = self._risk()
        if self.slippages:  # else the last report's figure stands
            self.avg_slippage = sum(self.slippages) / len(self.slippages)
            self.slippages.clear()
        slow, failing = incident == "api_latency", incident == "api_errors"
        return {
            "timestamp": iso(now),
            "metrics": {
                "sharpe_ratio": round(risk["sharpe_ratio"], 3),
                "max_drawdown": round(risk["max_drawdown"], 4),
                "var_95": round(risk["var_95"], 4),
                "leverage": round(risk["leverage"], 3),
                "avg_slippage": round(self.avg_slippage, 5),
                "fill_rate": round(self.rng.uniform(0.965, 1.0), 4),
                "api_p95_latency": round(self.rng.uniform(1050, 1400) if slow else self.rng.uniform(80, 400), 1),
                "api_error_rate": round(self.rng.uniform(0.06, 0.09) if failing else self.rng.uniform(0.0, 0.02), 4),
            },
            "labels": {"env": "demo", "desk": "equities"},
        }

    def _system(self, now: datetime, elapsed: float, incident: str | None) -> dict[str, Any]:
        cpu = self.rng.uniform(91, 98) if incident == "cpu" else self.rng.uniform(20, 60)
        used = round(self.rng.uniform(8000, 11000), 1)
        return {
            "timestamp": iso(now),
            "cpu": {"usage_percent": round(cpu, 1), "cores": 8},
            "memory": {"total_mb": 16384, "used_mb": used, "percent": round(used / 16384 * 100, 1)},
            "disk": {"total_gb": 500, "used_gb": 212, "percent": 42.4},
            "process": {"pid": 4242, "memory_mb": 812, "threads": 36, "uptime_seconds": 3600 + int(elapsed)},
        }

    def _external_alert(self, now: datetime, lagging: bool) -> list[Entry]:
        """The monitor's market-data alert: one firing message as the lag starts, one resolved as it ends."""
        if lagging == self.lag_alert_open:
            return []
        self.lag_alert_open = lagging
        message = {
            "tenant_id": self.tenant_id,
            "title": "Market data feed lagging",
            "message": "Quotes from the primary feed are 4.2 s behind" if lagging else "The primary feed caught up",
            "severity": "critical" if lagging else "info",
            "source": "prometheus",
            "metric_name": "market_data_lag_seconds",
            "metric_value": 4.2 if lagging else 0.3,
            "labels": {"feed": "primary"},
            "dedup_key": MARKET_DATA_LAG_KEY,
            "status": "firing" if lagging else "resolved",
            "timestamp": iso(now),
        }
        return [Entry("alert", message)]


def _lot(symbol: str, quantity: float) -> float:
    """`quantity` rounded down to a whole number of the symbol's lots."""
    return round(math.floor(quantity / LOTS[symbol] + 1e-9) * LOTS[symbol], 4)


class DemoFeed:
    """Sends every tenant's DemoMarket entries to the bus and the topic, every `interval` seconds, on a
    daemon thread, stamped by `clock`. Send failures are logged; the feed goes on."""

    def __init__(
        self,
        *,
        aws_endpoint: str,
        bus_name: str,
        topic_arn: str,
        tenants: Sequence[str],
        interval: float = 2.0,
        seed: int | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.aws_endpoint = aws_endpoint
        self.bus_name = bus_name
        self.topic_arn = topic_arn
        self.interval = interval
        self.clock = clock
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
        moment = now or self.clock()
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
