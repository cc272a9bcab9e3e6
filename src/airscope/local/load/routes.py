"""The route template the gateway matches a request to: the label its metrics carry."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection

from starlette.routing import compile_path

from airscope.services.api_gateway.proxy import ROUTES

HEALTH_ROUTE = "/api/health"  # served by the gateway itself, not in its proxy table
UNMATCHED_ROUTE = "_unmatched"  # the kit's label for a path no route matched


@functools.cache
def _gateway_routes() -> tuple[tuple[re.Pattern[str], str, Collection[str]], ...]:
    # The gateway's own table, so the labels here are the ones its metrics carry.
    table = [(route.template, route.methods) for route in ROUTES] + [(HEALTH_ROUTE, ("GET",))]
    return tuple((compile_path(template)[0], template, methods) for template, methods in table)


def gateway_route(method: str, path: str) -> str:
    """The route template the gateway matches ``method path`` to (Starlette's rule: the first route
    matching path and method, else the first matching the path alone, which answers 405)."""
    by_path = None
    for pattern, template, methods in _gateway_routes():
        if pattern.match(path):
            if method in methods:
                return template
            by_path = by_path or template
    return by_path or UNMATCHED_ROUTE
