"""Per-request values that log lines carry, set by the middleware for the request's duration."""

from __future__ import annotations

from contextvars import ContextVar
from typing import NamedTuple


class RequestContext(NamedTuple):
    service: str
    request_id: str


current_request: ContextVar[RequestContext | None] = ContextVar("airscope_request", default=None)
