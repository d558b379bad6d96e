"""Executed trades."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from alphapulse.core.inputs import Model
from alphapulse.core.keys import SYMBOL_MAX_LENGTH, SYMBOL_PATTERN
from alphapulse.core.times import EARLIEST, UtcDatetime

Side = Literal["buy", "sell"]
TradeStatus = Literal["filled", "partially_filled", "canceled"]
OrderType = Literal["market", "limit"]

TRADE_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
TRADE_ID_MAX_LENGTH = 128


class Trade(Model):
    trade_id: str = Field(min_length=1, max_length=TRADE_ID_MAX_LENGTH, pattern=TRADE_ID_PATTERN)
    symbol: str = Field(min_length=1, max_length=SYMBOL_MAX_LENGTH, pattern=SYMBOL_PATTERN)
    side: Side
    quantity: float = Field(gt=0, allow_inf_nan=False)
    price: float = Field(ge=0, allow_inf_nan=False)
    fees: float = Field(default=0, ge=0, allow_inf_nan=False)
    status: TradeStatus
    order_type: OrderType
    executed_at: UtcDatetime
    strategy: str | None = Field(default=None, max_length=128)

    @field_validator("executed_at")
    @classmethod
    def _in_sortable_range(cls, executed_at: datetime) -> datetime:
        # Stored times are sort keys: fixed-width ISO strings exist from year 1000 on.
        if executed_at < EARLIEST:
            raise ValueError("executed_at must not be before the year 1000")
        return executed_at

    def content_digest(self) -> str:
        """A short digest of every field: two reports of a trade with equal digests say the same thing."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
