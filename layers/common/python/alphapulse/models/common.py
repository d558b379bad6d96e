"""Shapes shared by every list endpoint."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, BaseModel

from alphapulse.timeutil import to_utc

T = TypeVar("T")

UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
"""A timezone-aware time, normalised to UTC (serialised as ISO 8601 with `Z`)."""

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1-500)")]
Cursor = Annotated[str | None, Query(max_length=2048, description="Opaque cursor from a previous page")]


class Page(BaseModel, Generic[T]):
    """A page of a list, newest first; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None
