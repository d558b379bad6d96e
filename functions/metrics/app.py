"""Metrics function: latest values and aggregated series (DESIGN section 4, Metrics)."""

from __future__ import annotations

from alphapulse.web import startup  # first: no garbage collection during init, and FastAPI imported lean

# isort: split
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Response

from alphapulse.auth.models import Principal
from alphapulse.core.keys import METRIC_NAME_PATTERN
from alphapulse.core.times import utcnow
from alphapulse.metrics import logic as metrics
from alphapulse.metrics.models import Aggregation, Interval, MetricList, MetricSeries, MetricValue
from alphapulse.metrics.wiring import MetricsDependencies, dependencies
from alphapulse.web.app import api_router, auth_responses, create_app, lambda_handler
from alphapulse.web.cache import CACHED_RESPONSES, Cached
from alphapulse.web.params import IN_UTC
from alphapulse.web.security import require

router = api_router("/metrics", tags=["metrics"])


Deps = Annotated[MetricsDependencies, Depends(dependencies.dependency)]
AUTH_RESPONSES = auth_responses("view_metrics")
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
    responses={**AUTH_RESPONSES, **CACHED_RESPONSES},
)
async def list_latest(principal: Viewer, deps: Deps, cache: Cached) -> Response:
    return await cache.respond(
        principal, ("metrics",), lambda: metrics.latest_metrics(deps.metrics, principal.tenant_id)
    )


@router.get(
    "/{metric}",
    response_model=MetricSeries,
    operation_id="get_metric_series",
    summary="A metric aggregated per interval",
    description=_SERIES_DESCRIPTION,
    responses={**AUTH_RESPONSES, **CACHED_RESPONSES},
)
async def series(
    principal: Viewer,
    deps: Deps,
    cache: Cached,
    metric: MetricName,
    start_time: Annotated[
        datetime | None, IN_UTC, Query(description="ISO 8601; default 24 h before end_time (naive = UTC)")
    ] = None,
    end_time: Annotated[datetime | None, IN_UTC, Query(description="ISO 8601; default now (naive = UTC)")] = None,
    aggregation: Annotated[Aggregation, Query(description="Aggregation applied per bucket")] = "avg",
    interval: Annotated[Interval, Query(description="Bucket width")] = "1h",
) -> Response:
    return await cache.respond(
        principal,
        ("metrics",),
        lambda: metrics.metric_series(
            deps.metrics,
            principal.tenant_id,
            metric,
            start_time=start_time,
            end_time=end_time,
            aggregation=aggregation,
            interval=interval,
            now=utcnow(),
        ),
    )


@router.get(
    "/{metric}/latest",
    response_model=MetricValue,
    operation_id="get_latest_metric",
    summary="The latest value of one metric",
    responses={**AUTH_RESPONSES, **CACHED_RESPONSES, 404: {"description": "The metric has no value"}},
)
async def latest(principal: Viewer, deps: Deps, cache: Cached, metric: MetricName) -> Response:
    return await cache.respond(
        principal, ("metrics",), lambda: metrics.latest_metric(deps.metrics, principal.tenant_id, metric)
    )


app = create_app("AlphaPulse metrics", routers=[router])
handler = lambda_handler(app)
startup.done()
