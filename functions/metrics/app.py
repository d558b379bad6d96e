"""Metrics function: latest values and aggregated series (DESIGN section 4, Metrics)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from alphapulse import metrics
from alphapulse.api import create_app, data_repository, lambda_handler
from alphapulse.auth import require
from alphapulse.models.auth import Principal
from alphapulse.models.metrics import METRIC_NAME_PATTERN, Aggregation, Interval, MetricList, MetricSeries, MetricValue
from alphapulse.repositories.metrics import MetricRepository
from alphapulse.timeutil import utcnow

router = APIRouter(prefix="/metrics", tags=["metrics"])


Store = Annotated[MetricRepository, data_repository(MetricRepository)]
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid or expired access token"},
    403: {"description": "The token lacks the view_metrics permission"},
}
Viewer = Annotated[Principal, require("view_metrics")]
MetricName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=METRIC_NAME_PATTERN,
        description="Metric name: letters, digits and `_ . : -`, at most 128 characters",
    ),
]

_SERIES_DESCRIPTION = (
    "The metric aggregated per `interval` bucket between `start_time` and `end_time` (both inclusive). "
    "Buckets are aligned to the Unix epoch (`floor(t / interval) * interval`, so `1d` starts at midnight UTC); "
    "each point's `timestamp` is its bucket's start; buckets without points are left out; oldest first. "
    "An unknown metric gives an empty series. "
    f"The window may span at most {metrics.MAX_WINDOW.days} days and hold at most {metrics.MAX_POINTS} stored "
    "points: beyond either, 422."
)


@router.get(
    "",
    response_model=MetricList,
    operation_id="list_latest_metrics",
    summary="The latest value of every metric",
    responses=AUTH_RESPONSES,
)
async def list_latest(principal: Viewer, store: Store) -> MetricList:
    return metrics.latest_metrics(store, principal.tenant_id)


@router.get(
    "/{metric}",
    response_model=MetricSeries,
    operation_id="get_metric_series",
    summary="A metric aggregated per interval",
    description=_SERIES_DESCRIPTION,
    responses=AUTH_RESPONSES,
)
async def series(
    principal: Viewer,
    store: Store,
    metric: MetricName,
    start_time: Annotated[
        datetime | None, Query(description="ISO 8601; default 24 h before end_time (naive = UTC)")
    ] = None,
    end_time: Annotated[datetime | None, Query(description="ISO 8601; default now (naive = UTC)")] = None,
    aggregation: Annotated[Aggregation, Query(description="Aggregation applied per bucket")] = "avg",
    interval: Annotated[Interval, Query(description="Bucket width")] = "1h",
) -> MetricSeries:
    return metrics.metric_series(
        store,
        principal.tenant_id,
        metric,
        start_time=start_time,
        end_time=end_time,
        aggregation=aggregation,
        interval=interval,
        now=utcnow(),
    )


@router.get(
    "/{metric}/latest",
    response_model=MetricValue,
    operation_id="get_latest_metric",
    summary="The latest value of one metric",
    responses={**AUTH_RESPONSES, 404: {"description": "The metric has no value"}},
)
async def latest(principal: Viewer, store: Store, metric: MetricName) -> MetricValue:
    return metrics.latest_metric(store, principal.tenant_id, metric)


app = create_app("AlphaPulse metrics", routers=[router])
handler = lambda_handler(app)
