"""The pure ASGI middleware: RED metrics, the server span, the access line, trace/request ids, and
the admission limit (``_admission``).

Pure ASGI rather than BaseHTTPMiddleware: no extra task per request, streaming untouched.

A request whose client left before the response started is recorded as 499 (nginx's "client closed
request"), whatever the app went on to answer: the answer reached no one, so the error ratios, SLIs
and alerts (which count 499 as failed) must see what the user saw, not the 200 sent into a closed
connection.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Mapping

import orjson
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.routing import BaseRoute, Router

from airscope.telemetry import _logging
from airscope.telemetry._admission import Admission
from airscope.telemetry._context import RequestContext, current_request
from airscope.telemetry._drills import burn_cpu, cpu_burner
from airscope.telemetry._metrics import HttpServerMetrics

# OpenTelemetry's known HTTP methods; anything else is recorded as _OTHER so that a scanner
# sending invented methods cannot grow the series count.
KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)
OTHER_METHOD = "_OTHER"
# The one route label of every request that matched no route (404s, scans, redirects).
UNMATCHED_ROUTE = "_unmatched"
# nginx's status for a request whose client closed the connection before the response started.
CLIENT_CLOSED_REQUEST = 499

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._\-]{1,64}")
_TRACE_HEADERS = (b"traceparent", b"tracestate", b"baggage")
_INTERNAL_ERROR = orjson.dumps({"error": "internal_error", "message": "internal server error"})


def route_template(scope: dict, root_path: str) -> str:
    """The matched route's template, with the prefix of any mount it sits under."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return UNMATCHED_ROUTE
    mount_prefix = scope.get("root_path", "")[len(root_path) :]
    return mount_prefix + path if mount_prefix else path


def _server_saw_disconnect(receive) -> bool:
    """Whether the server knows the client is gone, asked without waiting.

    ASGI has no way to ask this but an awaited ``receive()``, and uvicorn drops what is sent to a
    closed connection without a word; its request cycle (the owner of ``receive``, which Starlette
    passes on unwrapped, unlike ``send``) keeps the flag it checks itself. Other servers: False, and
    only ``http.disconnect`` or a cancellation tell.
    """
    return getattr(getattr(receive, "__self__", None), "disconnected", False) is True


class TelemetryMiddleware:
    def __init__(
        self,
        app,
        *,
        service: str,
        metrics: HttpServerMetrics,
        tracer: trace.Tracer | None,
        access_log: bool,
        probes: Mapping[str, BaseRoute],
        admission: Admission | None = None,
        router: Router | None = None,
    ) -> None:
        self.app = app
        # Probes and scrapes (/metrics, /health...) are served here, counted in metrics, but get
        # no span and log at debug only: they arrive every few seconds and would drown the lines
        # an operator reads.
        self.probes = probes
        self.service = service
        self.metrics = metrics
        self.tracer = tracer
        self.access_log = access_log
        self.admission = admission
        # Only to name the route of a refused request, which never reaches the router itself.
        self.router = router
        # The CPU drill's burner when the drill switches are on (None otherwise: one test per request).
        self.burner = cpu_burner(probes)
        self._error_log = _logging.get_logger("server")

    # One long function on purpose: it runs for every request, and helper calls would add to the
    # per-request cost the overhead benchmark (docs/performance-baselines.md) holds the kit to.
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        method = scope["method"]
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        path = scope["path"]
        root_path = scope.get("root_path", "")
        probe = self.probes.get(path)

        request_id = None
        carrier = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if _REQUEST_ID.fullmatch(value):
                    request_id = value.decode()
            elif name in _TRACE_HEADERS:
                if carrier is None:
                    carrier = {}
                carrier[name.decode()] = value.decode("latin-1")
        if request_id is None:
            # Correlation, not a secret: no need for the system call behind secrets.token_hex.
            request_id = format(random.getrandbits(64), "016x")

        span = None
        span_token = None
        recording = False
        if self.tracer is not None and probe is None:
            parent = propagate.extract(carrier) if carrier else None
            span = self.tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
            span_context = span.get_span_context()
            span_token = otel_context.attach(trace.set_span_in_context(span))
            trace_id = format(span_context.trace_id, "032x")
            # Unsampled spans record nothing; building their attributes would be wasted work.
            recording = span.is_recording()
            if recording:
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "url.path": path,
                        "url.scheme": scope.get("scheme", "http"),
                        "network.protocol.version": scope.get("http_version", "1.1"),
                        "client.address": (scope.get("client") or ("",))[0],
                    }
                )
        else:
            trace_id = format(random.getrandbits(128) or 1, "032x")
        request_token = current_request.set(RequestContext(self.service, request_id))
        response_headers = [(b"x-trace-id", trace_id.encode()), (b"x-request-id", request_id.encode())]

        status = 500
        started = False
        disconnected = False

        async def receive_watching() -> dict:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect" and not started:
                disconnected = True
            return message

        async def send_with_ids(message) -> None:
            nonlocal status, started, disconnected
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                if _server_saw_disconnect(receive):
                    disconnected = True
                message["headers"] = [*message.get("headers", ()), *response_headers]
            await send(message)

        admission = self.admission if probe is None else None
        refused = admission is not None and admission.in_flight >= admission.limit
        self.metrics.active_requests += 1
        if admission is not None and not refused:
            admission.in_flight += 1
        try:
            if refused:
                await admission.refuse(scope, self.router, method, send_with_ids)
            elif probe is None:
                if self.burner is not None and self.burner.ms_per_request:
                    burn_cpu(self.burner.ms_per_request)
                await self.app(scope, receive_watching, send_with_ids)
            else:
                scope["route"] = probe
                await probe.handle(scope, receive, send_with_ids)
        except asyncio.CancelledError:
            # The server gave up on the request (some cancel the app when the client leaves).
            if not started:
                disconnected = True
            raise
        except Exception as exc:
            if not started and (disconnected or _server_saw_disconnect(receive)):
                # The client left, and the app failed reading what would never come: not a bug.
                disconnected = True
                return
            if recording:
                span.record_exception(exc)
            self._error_log.error("unhandled exception", exc_info=exc)
            if started:
                raise
            # Answer here, inside the request's context, so the traceback is logged once with
            # its trace id instead of again by the server outside it.
            await send_with_ids(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            duration = time.perf_counter() - start
            self.metrics.active_requests -= 1
            if admission is not None and not refused:
                admission.in_flight -= 1
            if disconnected:
                status = CLIENT_CLOSED_REQUEST
            route = route_template(scope, root_path)
            child = self.metrics.duration_child(method, route, status)
            if recording:
                child.observe(duration, {"trace_id": trace_id})
                if route != UNMATCHED_ROUTE:
                    span.update_name(f"{method} {route}")
                    span.set_attributes({"http.route": route, "http.response.status_code": status})
                else:
                    span.set_attribute("http.response.status_code", status)
                if status >= 500 or status == CLIENT_CLOSED_REQUEST:
                    span.set_attribute("error.type", str(status))
                    span.set_status(Status(StatusCode.ERROR))
            else:
                child.observe(duration)
            if span is not None:
                span.end()
            if self.access_log:
                fields = {"service": self.service}
                if span is not None:
                    fields["trace_id"] = trace_id
                    fields["span_id"] = format(span_context.span_id, "016x")
                    fields["trace_sampled"] = span_context.trace_flags.sampled
                fields.update(
                    request_id=request_id,
                    method=method,
                    route=route,
                    path=path,
                    status=status,
                    duration_ms=round(duration * 1000, 3),
                )
                _logging.access_log().write(logging.INFO if probe is None else logging.DEBUG, fields)
            current_request.reset(request_token)
            if span_token is not None:
                otel_context.detach(span_token)
