"""Demo data for the local stack: a week of trades, a month of portfolio history, a day of
metrics, the trading system's status and a few alerts, for each demo tenant.

Everything is written through the repositories that ingestion uses, so what the dashboard shows
locally went through the same validation and keys as in AWS. Deterministic (seeded), and
idempotent: running it twice changes nothing.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from alphapulse.alerts.logic.lifecycle import fire
from alphapulse.alerts.models import AlertEvent
from alphapulse.alerts.repositories.alerts import AlertRepository
from alphapulse.core.times import utcnow
from alphapulse.metrics.repositories import MetricRepository
from alphapulse.portfolio.models import PortfolioSnapshot
from alphapulse.portfolio.repositories import PortfolioRepository
from alphapulse.system.models import TradingSystemStatus
from alphapulse.system.repositories import SystemRepository
from alphapulse.trades.models import Trade
from alphapulse.trades.repositories import TradeRepository

SYMBOLS = {"AAPL": 228.0, "MSFT": 415.0, "NVDA": 142.0, "AMZN": 205.0, "BTC-USD": 91_000.0}
RETENTION_SECONDS = 90 * 86400


def seed(table: str, tenant_id: str, *, now: datetime | None = None) -> None:
    """Write the demo data of one tenant into the data table."""
    now = (now or utcnow()).replace(second=0, microsecond=0)
    rng = random.Random(f"alphapulse-demo-{tenant_id}")  # noqa: S311 (demo data, not security)
    _trades(TradeRepository(table), tenant_id, now, rng)
    _portfolio(PortfolioRepository(table, retention_seconds=RETENTION_SECONDS), tenant_id, now, rng)
    _metrics(MetricRepository(table, retention_seconds=RETENTION_SECONDS), tenant_id, now, rng)
    _system(SystemRepository(table), tenant_id, now, rng)
    _alerts(AlertRepository(table), tenant_id, now)


def _trades(store: TradeRepository, tenant_id: str, now: datetime, rng: random.Random) -> None:
    trades = []
    for number in range(200):
        symbol = rng.choice(list(SYMBOLS))
        quantity = round(rng.uniform(0.05, 2), 4) if symbol == "BTC-USD" else rng.randint(5, 300)
        price = round(SYMBOLS[symbol] * rng.uniform(0.97, 1.03), 2)
        trades.append(
            Trade(
                trade_id=f"T-{tenant_id}-{number:05d}",
                symbol=symbol,
                side=rng.choice(["buy", "sell"]),
                quantity=quantity,
                price=price,
                fees=round(quantity * price * 0.0005, 2),
                status=rng.choices(["filled", "partially_filled", "canceled"], weights=[90, 7, 3])[0],
                order_type=rng.choice(["market", "limit"]),
                executed_at=now - timedelta(minutes=rng.randint(1, 7 * 24 * 60)),
                strategy=rng.choice(["momentum", "mean_reversion", None]),
            )
        )
    store.put_trades(tenant_id, trades)


def _portfolio(store: PortfolioRepository, tenant_id: str, now: datetime, rng: random.Random) -> None:
    holdings = {"AAPL": 120, "MSFT": 60, "NVDA": 200, "BTC-USD": 0.8}
    drift = 1.0
    for hours_ago in range(30 * 24, -1, -6):
        drift *= rng.uniform(0.993, 1.008)
        positions = [
            {
                "symbol": s,
                "quantity": q,
                "entry_price": round(SYMBOLS[s] * 0.92, 2),
                "current_price": round(SYMBOLS[s] * drift, 2),
            }
            for s, q in holdings.items()
        ]
        store.put_snapshot(
            tenant_id,
            PortfolioSnapshot.model_validate(
                {
                    "as_of": now - timedelta(hours=hours_ago),
                    "cash": 250_000,
                    "positions": positions,
                    "metrics": {
                        "sharpe_ratio": 1.4,
                        "sortino_ratio": 1.9,
                        "max_drawdown": 0.07,
                        "volatility": 0.18,
                        "return_since_inception": round(drift - 1 + 0.12, 4),
                    },
                }
            ),
        )


def _metrics(store: MetricRepository, tenant_id: str, now: datetime, rng: random.Random) -> None:
    for minutes_ago in range(24 * 60, -1, -15):
        store.put_points(
            tenant_id,
            now - timedelta(minutes=minutes_ago),
            {
                "sharpe_ratio": round(rng.gauss(1.3, 0.3), 3),
                "max_drawdown": round(abs(rng.gauss(0.06, 0.02)), 4),
                "leverage": round(rng.uniform(1.0, 1.6), 3),
                "var_95": round(abs(rng.gauss(0.03, 0.01)), 4),
                "fill_rate": round(rng.uniform(0.93, 1.0), 4),
                "cpu_usage_percent": round(rng.uniform(20, 95), 1),
                "api_p95_latency": round(rng.uniform(80, 1200), 1),
            },
            {"env": "demo"},
        )


def _system(store: SystemRepository, tenant_id: str, now: datetime, rng: random.Random) -> None:
    store.put_status(
        tenant_id,
        TradingSystemStatus.model_validate(
            {
                "cpu": {"usage_percent": round(rng.uniform(20, 60), 1), "cores": 8},
                "memory": {"total_mb": 16384, "used_mb": 9120, "percent": 55.7},
                "disk": {"total_gb": 500, "used_gb": 212, "percent": 42.4},
                "process": {"pid": 4242, "memory_mb": 812, "threads": 36, "uptime_seconds": 86400 * 3},
                "reported_at": now,
            }
        ),
    )


# The alert that events/alerts-{get,acknowledge,resolve}.json name (their trade, T-default-00123, is a demo trade).
EVENTS_ALERT_ID = "3f1c9a7be2d84c05a6b1e9d2c4f8a701"


def _alerts(store: AlertRepository, tenant_id: str, now: datetime) -> None:
    events = [
        ("leverage", 1.62, "error", "Portfolio leverage 1.62 above 1.5", 40),
        ("api_p95_latency", 1184.0, "warning", "API p95 latency 1184 ms above 1000 ms", 25),
        ("fill_rate", 0.931, "warning", "Fill rate 0.931 below 0.95", 10),
    ]
    for metric, value, severity, message, minutes_ago in events:
        fire(
            store,
            AlertEvent(
                tenant_id=tenant_id,
                alert_id=EVENTS_ALERT_ID if metric == "leverage" else None,
                title=message.split(" above")[0].split(" below")[0],
                message=message,
                severity=severity,
                source="alphapulse.rules",
                metric_name=metric,
                metric_value=value,
                dedup_key=f"demo:{metric}",
                status="firing",
                timestamp=now - timedelta(minutes=minutes_ago),
            ),
            now=now,
        )


def add_trades(table: str, tenant_id: str, count: int, *, now: datetime) -> None:
    """`count` more trades (`S-00000`...), 20 minutes apart before `now`: a busier desk than the demo's, for the
    benchmarks."""
    fill = {"symbol": "MSFT", "side": "sell", "quantity": 5, "price": 410.0, "fees": 1.0, "status": "filled",
            "order_type": "limit", "strategy": "momentum"}  # fmt: skip
    TradeRepository(table).put_trades(tenant_id, [
        Trade.model_validate({**fill, "trade_id": f"S-{n:05d}", "executed_at": now - timedelta(minutes=20 * n + 7)})
        for n in range(count)
    ])  # fmt: skip
