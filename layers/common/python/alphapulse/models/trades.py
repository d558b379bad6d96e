"""Executed trades."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from alphapulse.models.common import UtcDatetime

Side = Literal["buy", "sell"]
TradeStatus = Literal["filled", "partially_filled", "canceled"]
OrderType = Literal["market", "limit"]


class Trade(BaseModel):
    trade_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    symbol: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9./_-]+$")
    side: Side
    quantity: float = Field(gt=0, allow_inf_nan=False)
    price: float = Field(ge=0, allow_inf_nan=False)
    fees: float = Field(default=0, ge=0, allow_inf_nan=False)
    status: TradeStatus
    order_type: OrderType
    executed_at: UtcDatetime
    strategy: str | None = Field(default=None, max_length=128)
