"""The rules a new tenant starts with: the original system's defaults (DESIGN section 4)."""

from __future__ import annotations

from alphapulse.alerts.models import AlertRule, Severity

_DEFAULT_RULES: tuple[tuple[str, str, str, str, str, Severity, int, str], ...] = (
    # rule_id, name, description, metric_name, condition, severity, cooldown, message_template
    (
        "sharpe_ratio_low",
        "Low Sharpe ratio",
        "The portfolio's Sharpe ratio fell below 0.5.",
        "sharpe_ratio",
        "< 0.5",
        "warning",
        3600,
        "Sharpe ratio is {value:.2f}, below {threshold:g}",
    ),
    (
        "drawdown_high",
        "High drawdown",
        "The maximum drawdown exceeds 10%.",
        "max_drawdown",
        "> 0.1",
        "error",
        1800,
        "Max drawdown is {value:.2%}, above {threshold:.0%}",
    ),
    (
        "portfolio_leverage",
        "High leverage",
        "Portfolio leverage exceeds 1.5x.",
        "leverage",
        "> 1.5",
        "error",
        1800,
        "Leverage is {value:.2f}x, above {threshold:g}x",
    ),
    (
        "var_high",
        "High value at risk",
        "The 95% value at risk exceeds 5%.",
        "var_95",
        "> 0.05",
        "warning",
        3600,
        "VaR (95%) is {value:.2%}, above {threshold:.0%}",
    ),
    (
        "high_slippage",
        "High slippage",
        "Average execution slippage exceeds 0.2%.",
        "avg_slippage",
        "> 0.002",
        "warning",
        3600,
        "Average slippage is {value:.3%}, above {threshold:.1%}",
    ),
    (
        "low_fill_rate",
        "Low fill rate",
        "Less than 95% of orders are filled.",
        "fill_rate",
        "< 0.95",
        "warning",
        3600,
        "Fill rate is {value:.1%}, below {threshold:.0%}",
    ),
    (
        "high_memory_usage",
        "High memory usage",
        "The trading system uses more than 85% of its memory.",
        "memory_usage_percent",
        "> 85",
        "warning",
        1800,
        "Memory usage is {value:.1f}%, above {threshold:g}%",
    ),
    (
        "high_cpu_usage",
        "High CPU usage",
        "The trading system uses more than 90% CPU.",
        "cpu_usage_percent",
        "> 90",
        "warning",
        1800,
        "CPU usage is {value:.1f}%, above {threshold:g}%",
    ),
    (
        "high_api_latency",
        "High API latency",
        "The API's 95th-percentile latency exceeds 1000 ms.",
        "api_p95_latency",
        "> 1000",
        "warning",
        1800,
        "API p95 latency is {value:.0f} ms, above {threshold:g} ms",
    ),
    (
        "high_api_error_rate",
        "High API error rate",
        "More than 5% of API requests fail.",
        "api_error_rate",
        "> 0.05",
        "error",
        1800,
        "API error rate is {value:.1%}, above {threshold:.0%}",
    ),
)


def default_rules() -> list[AlertRule]:
    """The rules a new tenant starts with (DESIGN section 4)."""
    return [
        AlertRule(
            rule_id=rule_id,
            name=name,
            description=description,
            metric_name=metric,
            condition=condition,
            severity=severity,
            cooldown_seconds=cooldown,
            message_template=template,
            enabled=True,
        )
        for rule_id, name, description, metric, condition, severity, cooldown, template in _DEFAULT_RULES
    ]
