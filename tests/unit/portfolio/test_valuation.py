"""Portfolio valuation: per-position figures, totals consistent to the cent, and snapshot validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from alphapulse.portfolio.models import PortfolioSnapshot, value_snapshot


def snapshot(cash: Any, *positions: tuple[str, Any, Any, Any]) -> PortfolioSnapshot:
    return PortfolioSnapshot.model_validate(
        {
            "as_of": "2026-03-10T12:00:00Z",
            "cash": cash,
            "positions": [
                {"symbol": s, "quantity": q, "entry_price": e, "current_price": c} for s, q, e, c in positions
            ],
        }
    )


def test_value_snapshot_computes_value_pnl_percentage_and_weight() -> None:
    valuation = value_snapshot(snapshot("1000", ("AAPL", "10", "100", "110"), ("MSFT", "5", "200", "180")))
    aapl, msft = valuation.positions
    assert (aapl.value, aapl.pnl, aapl.pnl_percentage) == (Decimal("1100.00"), Decimal("100.00"), Decimal("10.0000"))
    assert (msft.value, msft.pnl, msft.pnl_percentage) == (Decimal("900.00"), Decimal("-100.00"), Decimal("-10.0000"))
    assert valuation.positions_value == Decimal("2000.00")
    assert valuation.total_value == Decimal("3000.00")
    assert aapl.weight == Decimal("0.366667")
    assert msft.weight == Decimal("0.300000")


def test_value_snapshot_rounds_each_value_to_cents_and_totals_add_up() -> None:
    # 3 x 0.335 = 1.005 -> 1.00 (half even), 1 x 0.125 = 0.125 -> 0.12; cash 0.105 -> 0.10
    valuation = value_snapshot(snapshot("0.105", ("A", "3", "0.3", "0.335"), ("B", "1", "0.1", "0.125")))
    assert [row.value for row in valuation.positions] == [Decimal("1.00"), Decimal("0.12")]
    assert valuation.cash == Decimal("0.10")
    assert valuation.positions_value == Decimal("1.12")
    assert valuation.total_value == Decimal("1.22")


def test_value_snapshot_zero_cost_position_has_zero_percentage() -> None:
    (row,) = value_snapshot(snapshot("0", ("GIFT", "10", "0", "5"))).positions
    assert row.pnl == Decimal("50.00")
    assert row.pnl_percentage == 0


def test_value_snapshot_zero_total_has_zero_weights() -> None:
    valuation = value_snapshot(snapshot("-100", ("A", "10", "10", "10")))
    assert valuation.total_value == 0
    assert valuation.positions[0].weight == 0


def test_value_snapshot_profitable_short_has_positive_percentage() -> None:
    (row,) = value_snapshot(snapshot("5000", ("TSLA", "-10", "100", "90"))).positions
    assert row.value == Decimal("-900.00")
    assert row.pnl == Decimal("100.00")
    assert row.pnl_percentage == Decimal("10.0000")


def test_value_snapshot_without_positions_totals_cash() -> None:
    valuation = value_snapshot(snapshot("12.345"))
    assert (valuation.cash, valuation.positions_value, valuation.total_value) == (
        Decimal("12.34"),
        Decimal("0.00"),
        Decimal("12.34"),
    )


@pytest.mark.parametrize(
    "detail",
    [
        {"cash": "NaN", "positions": []},
        {"cash": "Infinity", "positions": []},
        {"cash": 1, "positions": [{"symbol": "A", "quantity": 1, "entry_price": -1, "current_price": 1}]},
        {"cash": 1, "positions": [{"symbol": "A#B", "quantity": 1, "entry_price": 1, "current_price": 1}]},
        {"cash": 1, "positions": [{"symbol": "A", "quantity": 1e20, "entry_price": 1, "current_price": 1}]},
        {
            "cash": 1,
            "positions": [
                {"symbol": "A", "quantity": 1, "entry_price": 1, "current_price": 1},
                {"symbol": "A", "quantity": 2, "entry_price": 1, "current_price": 1},
            ],
        },
        {"cash": 1e30, "positions": []},
        {"cash": 1, "positions": [], "metrics": {"sharpe_ratio": "NaN"}},
    ],
)
def test_snapshot_invalid_detail_is_refused(detail: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PortfolioSnapshot.model_validate({"as_of": "2026-03-10T12:00:00Z", **detail})


def test_snapshot_naive_as_of_is_refused() -> None:
    with pytest.raises(ValidationError):
        PortfolioSnapshot.model_validate({"as_of": "2026-03-10T12:00:00", "cash": 1})


money = st.decimals(min_value=-(10**15), max_value=10**15, places=4, allow_nan=False, allow_infinity=False)
quantity = st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False)
price = st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(cash=money, rows=st.lists(st.tuples(quantity, price, price), max_size=30))
def test_value_snapshot_totals_are_exact_sums_of_cents(
    cash: Decimal, rows: list[tuple[Decimal, Decimal, Decimal]]
) -> None:
    valuation = value_snapshot(snapshot(cash, *((f"S{i}", q, e, c) for i, (q, e, c) in enumerate(rows))))
    figures = [valuation.cash, valuation.positions_value, valuation.total_value]
    figures += [row.value for row in valuation.positions] + [row.pnl for row in valuation.positions]
    assert all(figure == figure.quantize(Decimal("0.01")) for figure in figures)
    assert valuation.total_value == valuation.cash + valuation.positions_value
    assert valuation.positions_value == sum((row.value for row in valuation.positions), Decimal(0))
    for row, (q, e, c) in zip(valuation.positions, rows, strict=True):
        assert abs(row.value - q * c) <= Decimal("0.005")
        assert abs(row.pnl - (c - e) * q) <= Decimal("0.005")
