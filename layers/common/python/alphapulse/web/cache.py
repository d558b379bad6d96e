"""Cached GET routes (DESIGN section 7): a route takes `Cached` and answers `await cache.respond(...)`.

The permission check is the route's own dependency, so it runs before the cache is read, every time. The
cache key holds the tenant, the route (its operation id and path), the normalised query and the caller's
permissions; the entry is valid while the versions of the domains the route shows are unchanged
(`alphapulse.cache.logic`). Every answer carries `X-Cache`, a strong `ETag`, `Cache-Control: private,
max-age=<the route's TTL>` and `Vary: Authorization`, and a matching `If-None-Match` gets 304 with no body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request, Response
from fastapi.exceptions import ResponseValidationError

from alphapulse.auth.models import Principal
from alphapulse.cache import wiring
from alphapulse.cache.logic import etag_of
from alphapulse.cache.models import DOMAINS, Answer
from alphapulse.core.config import get_settings
from alphapulse.core.observability import count

CACHED_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "X-Cache": {"description": "HIT when served from the cache, else MISS", "schema": {"type": "string"}},
            "ETag": {"description": "Strong validator: a digest of the body", "schema": {"type": "string"}},
            "Cache-Control": {"description": "private, max-age=<the route's TTL>", "schema": {"type": "string"}},
        }
    },
    304: {"description": "Not modified: the `If-None-Match` ETag is current (no body)"},
}


class RouteCache:
    """The cache, as one GET request sees it."""

    def __init__(self, request: Request) -> None:
        self.request = request

    async def respond(self, principal: Principal, domains: tuple[str, ...], compute: Callable[[], Any]) -> Response:
        """The route's response: from the cache while `domains` are unchanged, else `compute()` (the route's
        result, serialised as FastAPI would with its response model)."""
        unknown = set(domains) - DOMAINS
        if unknown:
            raise ValueError(f"unknown cache domains {sorted(unknown)}")
        route = self.request.scope["route"]
        ttl = get_settings().cache_ttl(route.operation_id)

        def body() -> bytes:
            content = compute()
            value, errors = route.response_field.validate(content, {}, loc=("response",))
            if errors:
                raise ResponseValidationError(errors=errors, body=content)
            return bytes(
                route.response_field.serialize_json(
                    value,
                    include=route.response_model_include,
                    exclude=route.response_model_exclude,
                    by_alias=route.response_model_by_alias,
                    exclude_unset=route.response_model_exclude_unset,
                    exclude_defaults=route.response_model_exclude_defaults,
                    exclude_none=route.response_model_exclude_none,
                )
            )

        cache = wiring.dependencies().cache
        if cache is None:
            made = body()
            answer = Answer(made, etag_of(made), hit=False)
        else:
            answer = cache.answer(principal.tenant_id, self._key(route.operation_id, principal), domains, ttl, body)
        headers = {"X-Cache": "HIT" if answer.hit else "MISS", "ETag": answer.etag,
                   "Cache-Control": f"private, max-age={ttl}", "Vary": "Authorization"}  # fmt: skip
        count("CacheHit" if answer.hit else "CacheMiss", route=route.operation_id)
        if _matches(self.request.headers.get("if-none-match"), answer.etag):
            count("CacheNotModified", route=route.operation_id)
            return Response(status_code=304, headers=headers)
        return Response(answer.body, media_type="application/json", headers=headers)

    def _key(self, operation_id: str, principal: Principal) -> str:
        # Encoded, so that no value can pass for another parameter (`a=1%26b%3D2` is not `a=1&b=2`)
        query = urlencode(sorted(self.request.query_params.multi_items()))
        permissions = ",".join(sorted(principal.permissions))
        return "\n".join((operation_id, self.request.url.path, query, permissions))


def _matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match compares weakly (RFC 9110 13.1.2): `W/` is ignored, and `*` matches any current body."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


async def route_cache(request: Request) -> RouteCache:
    """The dependency: async, as every route and dependency is (a class would be built on a worker thread)."""
    return RouteCache(request)


Cached = Annotated[RouteCache, Depends(route_cache)]
