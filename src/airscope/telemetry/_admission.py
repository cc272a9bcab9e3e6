"""Load shedding: a service refuses what it cannot serve in time, at once, instead of queueing it.

Past its capacity a service that admits everything makes every request slow, and its callers give
up on answers it still goes on to compute (a 50 chats/s open-loop load once saw p95 at 99 s). The
kit therefore admits at most ``limit`` requests at a time (health probes and scrapes always pass:
a loaded service is not a dead one); the next is answered 503 with ``Retry-After`` in microseconds,
counted in ``http_server_requests_shed_total`` and, like any answer, in the RED histogram.
"""

from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry, Counter
from starlette.routing import Match, Router

# A second is long enough for a burst to drain and short enough not to idle a client that could
# be served; callers with a retry budget add their own jitter.
RETRY_AFTER_SECONDS = 1
_OVERLOADED = orjson.dumps(
    {"error": "overloaded", "message": f"the service is at its capacity; retry in {RETRY_AFTER_SECONDS}s"}
)
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
    (b"content-length", str(len(_OVERLOADED)).encode()),
]


class Admission:
    """How many requests are in the service now, and the limit past which the next is refused."""

    def __init__(self, limit: int, registry: CollectorRegistry, methods: frozenset[str]) -> None:
        self.limit = limit
        # A plain count: the middleware runs on the event loop's one thread.
        self.in_flight = 0
        self.registry = registry
        self.shed = Counter(
            "http_server_requests_shed",
            "Requests refused with 503 and Retry-After because the service was at its concurrency limit "
            "(AIRSCOPE_MAX_CONCURRENT_REQUESTS), by method.",
            ["method"],
            registry=registry,
        )
        # Every method exported from the start, so a rate over the counter reads 0 before the first shed.
        self._shed_by_method = {method: self.shed.labels(method) for method in methods}

    async def refuse(self, scope: dict, router: Router | None, method: str, send) -> None:
        """Answers 503 overloaded; names the route the request would have taken, for the RED metrics."""
        self._shed_by_method[method].inc()
        if router is not None:
            for route in router.routes:
                if route.matches(scope)[0] is Match.FULL:
                    scope["route"] = route
                    break
        await send({"type": "http.response.start", "status": 503, "headers": list(_HEADERS)})
        await send({"type": "http.response.body", "body": _OVERLOADED})

    def unregister(self) -> None:
        self.registry.unregister(self.shed)
