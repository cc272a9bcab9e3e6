"""Per-request values that log lines carry, set by the middleware for the request's duration."""

from __future__ import annotations

from contextvars import ContextVar
from typing import NamedTuple


class RequestContext(NamedTuple):
    service: str
    request_id: str


current_request: ContextVar[RequestContext | None] = ContextVar("airscope_request", default=None)


def current_request_id() -> str | None:
    """The id of the request being served: the caller's valid ``X-Request-Id``, else the kit's own.

    A service passes it on to the services it calls, so one id follows the request everywhere.
    """
    context = current_request.get()
    return None if context is None else context.request_id
