"""Forwarding a request to another service and answering with its answer: what the api-gateway's
routes and the frontend's ``/api`` proxy share.

The request body is streamed to the upstream; the upstream's answer is read whole (the platform's
answers are small JSON documents), so the timeout covers the full answer and a failure becomes a
clean 504/502 instead of a response cut off midway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
from starlette.requests import Request
from starlette.responses import Response

from airscope.services.common.errors import ServiceError

# RFC 9110 §7.6.1, plus what this hop recomputes itself.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host"}
)  # fmt: skip
# The upstream's own framing and ids: this response is re-framed, and the kit adds this hop's ids.
UPSTREAM_ONLY = frozenset(
    {"content-length", "content-encoding", "date", "server", "x-trace-id", "x-request-id"}
)  # fmt: skip
NOT_ANSWERED = HOP_BY_HOP | UPSTREAM_ONLY


def body(request: Request) -> AsyncIterator[bytes] | None:
    """The body to stream on, only when there is one: a GET must not turn into a chunked upload."""
    if "content-length" in request.headers or "transfer-encoding" in request.headers:
        return request.stream()
    return None


async def exchange(
    client: httpx.AsyncClient,
    outgoing: httpx.Request,
    upstream: str,
    within: float,
    outcome: Callable[[str], None] = lambda _: None,
) -> Response:
    """Sends ``outgoing`` and answers the upstream's answer, re-framed; ``outcome`` hears how it
        went (``timeout``, ``unreachable`` or the status code) as soon as that is known. ``within``: the
    request's timeout (seconds), named in the 504's message."""
    try:
        answer = await client.send(outgoing)
    except httpx.TimeoutException:
        outcome("timeout")
        raise ServiceError(504, "upstream_timeout", f"{upstream} did not answer within {within:g}s") from None
    except httpx.TransportError as exc:
        outcome("unreachable")
        raise ServiceError(
            502, "upstream_unreachable", f"{upstream} could not be reached ({type(exc).__name__})"
        ) from None
    outcome(str(answer.status_code))
    response = Response(answer.content, status_code=answer.status_code)
    response.raw_headers.extend(
        (name.lower(), value)
        for name, value in answer.headers.raw
        if name.lower().decode("latin-1") not in NOT_ANSWERED
    )
    return response
