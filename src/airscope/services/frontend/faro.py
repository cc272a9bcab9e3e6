"""``POST /faro/collect``: what the page's Faro Web SDK sends about it (monitoring.js).

A payload is the SDK's ``{meta, logs, exceptions, measurements, events, traces}``. Anybody can post
here, so it is distrusted whole before any of it counts: a client address may send ``burst`` payloads
at once and ``rate`` a second after that (429, with Retry-After, which Faro honours), a payload is at
most 256 KiB and never compressed (413, 415), and it must match the schema below (400). Only then
does each item move its metric and write one log line; a refused payload moves nothing but
``rum_beacons_total``. Label values come from the closed sets of ``metrics``: a view or error kind the
UI does not have becomes ``other``, and free text (an error's message, a stack frame) only reaches
the log, shortened.

How strict the schema is, and why:
- The top level is closed: exactly Faro's six keys (Alloy's faro.receiver reads no other); anything
  else is not a Faro payload (400).
- Everything read here is typed strictly and bounded: ids by pattern, label candidates at 64
  characters, texts at 8 KiB, numbers finite and within range, lists and maps by length.
- Unknown keys inside ``meta`` and inside an item are ignored, not refused. ``meta`` is open in Faro
  itself (an application adds its own metas), and the SDK adds optional item fields in minor releases
  (``fatal``, ``fingerprint``, ``action`` in 2.x): refusing them would drop every payload of the page
  after an SDK update, silently, where Alloy's receiver (a Go decoder) keeps them. Ignored keys reach
  no metric and no log line here.

The page's own named items (monitoring.js): Faro's ``view_changed`` event is a page view;
``first_chat_answer`` a measurement; ``slow_api_call`` an event; an exception's ``context.kind`` its
kind. Each item carries the view it was captured on (``page`` in its context or attributes: a batch
has one ``meta``, its first item's), else the payload's ``meta.view``.

Browser spans (``traces``, OTLP/JSON): locally, with ``AIRSCOPE_TRACE_DIR`` set, they are appended to
``<trace dir>/<instance>-browser.jsonl`` beside the services' span files, re-encoded from the
fields `airscope trace` reads and named service ``frontend-browser`` whatever the payload claims (a
page cannot write spans as another service): a click's span and its fetch spans show in
``airscope trace <id>`` above the backend's. In production the accepted payload, as received, is
also forwarded to Alloy's faro.receiver (``FRONTEND_FARO_FORWARD_URL``) from a bounded queue by a
background task: a telemetry outage never slows or fails the page's request; what does not fit or
fails is dropped and counted in ``telemetry_dropped_total{signal="rum"}``.
"""

from __future__ import annotations

import asyncio
import errno
import json
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import httpx
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError, model_validator

from airscope.services.common import ServiceError
from airscope.services.frontend import metrics
from airscope.telemetry import DROPPED, get_logger, untraced

log = get_logger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_ITEMS = 200  # per list; the SDK sends at most 50 items a batch
MAX_SPANS = 500
# How much of a browser's free text (error messages, script locations, paths) reaches a log line.
LOGGED_TEXT_CHARS = 300
STACK_FRAMES_LOGGED = 5
# The service the browser's spans are written as, locally (the page's Faro app is named alike).
BROWSER_SERVICE = "frontend-browser"
VITALS = {"lcp": "LCP", "cls": "CLS", "inp": "INP", "fcp": "FCP", "ttfb": "TTFB"}
# Faro's name of the view before the page has named its first one.
FARO_DEFAULT_VIEW = "default"
DROPPED_SIGNAL = "rum"

TraceId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
SpanId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
LabelCandidate = Annotated[str, Field(max_length=64)]
Key = Annotated[str, Field(max_length=128)]
FreeText = Annotated[str, Field(max_length=8192)]
Seconds = Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)]
Number = Annotated[float, Field(allow_inf_nan=False)]
# Faro sends an item's context and an event's attributes as strings (stringifyObjectValues).
Strings = Annotated[dict[Key, FreeText], Field(max_length=64)]
Nanos = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]


def page_label(page: str | None) -> str:
    return page if page in metrics.PAGES else metrics.OTHER


def kind_label(kind: str | None) -> str:
    return kind if kind in metrics.ERROR_KINDS else metrics.OTHER


def shortened(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= LOGGED_TEXT_CHARS else text[: LOGGED_TEXT_CHARS - 1] + "…"


class _Open(BaseModel):
    """Unknown keys ignored (see the module's docstring); the declared ones strict."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TraceContext(_Open):
    trace_id: TraceId
    span_id: SpanId | None = None


class _Item(_Open):
    context: Strings | None = None
    trace: TraceContext | None = None

    def page(self, meta: Meta) -> str:
        return page_label((self.context or {}).get("page") or meta.view_name)

    def trace_id(self) -> str | None:
        return self.trace.trace_id if self.trace else None


class Frame(_Open):
    filename: FreeText = ""
    function: FreeText = ""
    lineno: int | None = Field(default=None, ge=0)
    colno: int | None = Field(default=None, ge=0)

    def __str__(self) -> str:
        where = f"{self.filename}:{self.lineno or 0}:{self.colno or 0}"
        return f"{self.function}@{where}" if self.function else where


class Stacktrace(_Open):
    frames: list[Frame] = Field(default_factory=list, max_length=100)


class FaroException(_Item):
    type: FreeText
    value: FreeText = ""
    stacktrace: Stacktrace | None = None

    def record(self, meta: Meta) -> None:
        context = self.context or {}
        kind, page = kind_label(context.get("kind")), self.page(meta)
        metrics.JS_ERRORS.labels(kind, page).inc()
        frames = self.stacktrace.frames if self.stacktrace else []
        status = context.get("status")
        log.info(
            "rum js error",
            kind=kind,
            page=page,
            error_type=shortened(self.type),
            error_message=shortened(self.value),
            # A script error's location (its listener's), else a failed call's path, else the top frame.
            source=shortened(
                context.get("source") or context.get("path") or (str(frames[0]) if frames else "")
            ),
            stack=shortened(" < ".join(str(frame) for frame in frames[:STACK_FRAMES_LOGGED])),
            status=_status(status),
            trace_id_client=self.trace_id(),
            session=meta.session_id,
        )


class Measurement(_Item):
    type: LabelCandidate
    values: Annotated[dict[Key, Number], Field(max_length=64)]

    @model_validator(mode="after")
    def _what_we_read_is_in_range(self) -> Measurement:
        if self.type == "web-vitals":
            named = [key for key in self.values if key in VITALS]
            if len(named) != 1:
                raise ValueError(f"a web-vitals measurement names one of {', '.join(VITALS)}")
            if not 0 <= self.values[named[0]] <= 3_600_000:
                raise ValueError(f"{named[0]} must be between 0 and 3600000 (milliseconds; CLS unitless)")
        elif self.type == "first_chat_answer":
            seconds = self.values.get("seconds")
            if seconds is None or not 0 <= seconds <= 3600:
                raise ValueError("a first_chat_answer measurement has seconds between 0 and 3600")
        return self

    def record(self, meta: Meta) -> None:
        page = self.page(meta)
        rating = shortened((self.context or {}).get("rating")) or None
        if self.type == "web-vitals":
            key = next(key for key in self.values if key in VITALS)
            name, value = VITALS[key], self.values[key]
            if name == "CLS":
                metrics.CUMULATIVE_LAYOUT_SHIFT.labels(page).observe(value)
                log.info(
                    "rum web vital", name=name, page=page, score=value, rating=rating, session=meta.session_id
                )
            else:
                seconds = value / 1000  # web-vitals reports milliseconds
                metrics.WEB_VITAL_SECONDS.labels(name, page).observe(seconds)
                log.info(
                    "rum web vital",
                    name=name,
                    page=page,
                    seconds=seconds,
                    rating=rating,
                    session=meta.session_id,
                )
        elif self.type == "first_chat_answer":
            seconds = self.values["seconds"]
            metrics.TIME_TO_FIRST_CHAT_ANSWER.observe(seconds)
            log.info(
                "rum first chat answer",
                page=page,
                seconds=seconds,
                trace_id_client=self.trace_id(),
                session=meta.session_id,
            )
        # Other measurements (none the page sends today) count for nothing here (production forwards them).


class FaroEvent(_Item):
    name: Annotated[str, Field(max_length=256)]
    domain: FreeText | None = None
    attributes: Strings | None = None

    @model_validator(mode="after")
    def _what_we_read_is_in_range(self) -> FaroEvent:
        if self.name == "slow_api_call":
            seconds = _number((self.attributes or {}).get("seconds"))
            if seconds is None or not 0 <= seconds <= 3600:
                raise ValueError("a slow_api_call event has seconds between 0 and 3600")
        return self

    def record(self, meta: Meta) -> None:
        attributes = self.attributes or {}
        if self.name == "view_changed":
            view = attributes.get("toView")
            if view == FARO_DEFAULT_VIEW:  # Faro's placeholder, before the page says its view
                return
            page = page_label(view)
            metrics.PAGE_VIEWS.labels(page).inc()
            log.info("rum page view", page=page, session=meta.session_id)
        elif self.name == "slow_api_call":
            status = attributes.get("status", "")
            log.info(
                "rum slow api call",
                page=page_label(attributes.get("page") or meta.view_name),
                path=shortened(attributes.get("path")),
                status=_status(status),
                seconds=_number(attributes.get("seconds")),
                trace_id_client=self.trace_id(),
                session=meta.session_id,
            )
        # Faro's own events (session_start, faro.tracing.fetch...) count for nothing here (production forwards them).


class FaroLog(_Item):
    message: FreeText = ""
    level: LabelCandidate | None = None


class Session(_Open):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class View(_Open):
    name: LabelCandidate


class Meta(_Open):
    session: Session | None = None
    view: View | None = None

    @property
    def session_id(self) -> str | None:
        return self.session.id if self.session else None

    @property
    def view_name(self) -> str | None:
        return self.view.name if self.view else None


# --- browser spans: the OTLP/JSON fields `airscope trace` reads, nothing else is written -----------


class AnyValue(_Open):
    """The scalar kinds; an array or a map (Faro's browser.brands) is dropped, its key kept."""

    stringValue: FreeText | None = None
    boolValue: bool | None = None
    intValue: int | Annotated[str, Field(pattern=r"^-?[0-9]{1,20}$")] | None = None
    doubleValue: Number | None = None


class KeyValue(_Open):
    key: Key
    value: AnyValue | None = None


Attributes = Annotated[list[KeyValue], Field(max_length=64)]


class SpanStatus(_Open):
    code: int | None = Field(default=None, ge=0, le=2)
    message: FreeText | None = None


class SpanEvent(_Open):
    name: FreeText
    timeUnixNano: Nanos | NonNegativeInt
    attributes: Attributes = Field(default_factory=list)


class OtlpSpan(_Open):
    traceId: TraceId
    spanId: SpanId
    parentSpanId: SpanId | Literal[""] | None = None
    name: Annotated[str, Field(max_length=1024)]
    kind: int = Field(default=0, ge=0, le=5)
    startTimeUnixNano: Nanos | NonNegativeInt
    endTimeUnixNano: Nanos | NonNegativeInt
    attributes: Attributes = Field(default_factory=list)
    status: SpanStatus | None = None
    events: Annotated[list[SpanEvent], Field(max_length=32)] = Field(default_factory=list)


class Scope(_Open):
    name: FreeText = ""
    version: FreeText | None = None


class ScopeSpans(_Open):
    scope: Scope | None = None
    spans: Annotated[list[OtlpSpan], Field(max_length=MAX_SPANS)]


class Resource(_Open):
    attributes: Attributes = Field(default_factory=list)


class ResourceSpans(_Open):
    resource: Resource | None = None
    scopeSpans: Annotated[list[ScopeSpans], Field(max_length=32)]


class Traces(_Open):
    resourceSpans: Annotated[list[ResourceSpans], Field(max_length=8)]

    @model_validator(mode="after")
    def _bounded(self) -> Traces:
        spans = sum(len(scope.spans) for rs in self.resourceSpans for scope in rs.scopeSpans)
        if spans > MAX_SPANS:
            raise ValueError(f"at most {MAX_SPANS} spans a payload")
        return self

    def otlp_line(self) -> bytes:
        """One ExportTraceServiceRequest line, as the kit's span files hold them, of the spans alone:
        the resource says service ``frontend-browser`` whatever the page said."""
        resource_spans = []
        for rs in self.resourceSpans:
            attributes = [
                pair.model_dump(exclude_none=True)
                for pair in (rs.resource.attributes if rs.resource else [])
                if pair.key != "service.name"
            ]
            attributes.append({"key": "service.name", "value": {"stringValue": BROWSER_SERVICE}})
            resource_spans.append(
                {
                    "resource": {"attributes": attributes},
                    "scopeSpans": [scope.model_dump(exclude_none=True) for scope in rs.scopeSpans],
                }
            )
        return (json.dumps({"resourceSpans": resource_spans}, separators=(",", ":")) + "\n").encode()


class Payload(_Closed):
    meta: Meta
    logs: Annotated[list[FaroLog], Field(max_length=MAX_ITEMS)] = Field(default_factory=list)
    exceptions: Annotated[list[FaroException], Field(max_length=MAX_ITEMS)] = Field(default_factory=list)
    measurements: Annotated[list[Measurement], Field(max_length=MAX_ITEMS)] = Field(default_factory=list)
    events: Annotated[list[FaroEvent], Field(max_length=MAX_ITEMS)] = Field(default_factory=list)
    traces: Traces | None = None

    def record(self) -> None:
        for item in (*self.exceptions, *self.measurements, *self.events):
            item.record(self.meta)


def _status(text: str | None) -> int | None:
    """An HTTP status the page wrote as text, when it is one (ASCII digits: "²".isdigit() too)."""
    return int(text) if text and len(text) <= 3 and text.isascii() and text.isdigit() else None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


# --- admission --------------------------------------------------------------------------------------


class ClientBuckets:
    """A token bucket per client address, in this process's memory.

    At most ``max_clients`` buckets are kept; the least recently seen client is forgotten first
    (it starts again with a full bucket), so a flood of addresses costs bounded memory.
    """

    def __init__(
        self, *, rate: float, burst: int, max_clients: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        """Takes a token for ``client``: 0 when there was one, else the seconds until there is."""
        now = self.clock()
        tokens, at = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


class PayloadRejected(ServiceError):
    """A refused payload: answered like any ServiceError, counted under its ``outcome``."""

    def __init__(
        self, status: int, code: str, outcome: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, code, message, headers=headers)
        self.outcome = outcome


class BrowserSpans:
    """Appends the browser's spans to a span file of their own, one whole line a payload (O_APPEND),
    read by `airscope trace` and the console with the services' files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._failing = False

    def write(self, line: bytes) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, line)
                if written < len(line):  # a full disk: cut the half line back off
                    os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_END) - written)
                    raise OSError(errno.ENOSPC, f"only {written} of {len(line)} bytes written")
            finally:
                os.close(fd)
        except OSError as error:
            DROPPED.add("traces")
            if not self._failing:
                log.warning(
                    "browser span file not writable: dropping its spans",
                    path=str(self.path),
                    error=str(error),
                )
            self._failing = True
            return
        self._failing = False


class Forwarder:
    """Forwards accepted payloads, as received, to Alloy's faro.receiver from a bounded queue.

    ``offer`` never waits: a payload that does not fit (``max_bytes`` queued) is dropped and counted;
    one task posts them in turn, untraced (the telemetry's own traffic is no call of the platform), and
    counts each one the receiver did not take. One warning when forwarding starts failing, one line
    when it works again.
    """

    def __init__(self, url: str, *, max_bytes: int, timeout: float) -> None:
        self.url = url
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.queued_bytes = 0
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._failing = False
        DROPPED.add(DROPPED_SIGNAL, 0)  # exported at 0 from the start, so that a rate sees the first drop

    def offer(self, body: bytes) -> bool:
        if self.queued_bytes + len(body) > self.max_bytes:
            DROPPED.add(DROPPED_SIGNAL)
            return False
        self.queued_bytes += len(body)
        self._queue.put_nowait(body)
        return True

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            while True:
                body = await self._queue.get()
                self.queued_bytes -= len(body)
                await self._send(client, body)

    async def _send(self, client: httpx.AsyncClient, body: bytes) -> None:
        problem = None
        try:
            with untraced():
                answer = await client.post(
                    self.url, content=body, headers={"Content-Type": "application/json"}
                )
            if not answer.is_success:
                problem = f"HTTP {answer.status_code}"
        except httpx.HTTPError as error:
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            if self._failing:
                log.info("faro forwarding works again", url=self.url)
            self._failing = False
            return
        DROPPED.add(DROPPED_SIGNAL)
        if not self._failing:
            log.warning(
                "faro forwarding failing: dropping payloads until it works", url=self.url, problem=problem
            )
        self._failing = True


class FaroReceiver:
    def __init__(
        self, buckets: ClientBuckets, *, spans: BrowserSpans | None = None, forward: Forwarder | None = None
    ) -> None:
        self.buckets = buckets
        self.spans = spans
        self.forward = forward

    async def receive(self, request: Request) -> Response:
        try:
            body = await self._admit(request)
            payload = _parse(body)
        except PayloadRejected as rejected:
            metrics.BEACONS.labels(rejected.outcome).inc()
            raise
        payload.record()
        if payload.traces is not None and self.spans is not None:
            self.spans.write(payload.traces.otlp_line())
        if self.forward is not None:
            self.forward.offer(body)
        metrics.BEACONS.labels("accepted").inc()
        return Response(status_code=202)  # as Alloy's faro.receiver answers

    async def _admit(self, request: Request) -> bytes:
        client = request.client.host if request.client else "unknown"
        wait = self.buckets.take(client)
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            raise PayloadRejected(
                429,
                "rate_limited",
                "rejected_rate_limited",
                f"too many payloads from this client; retry in {retry_after}s",
                headers={"Retry-After": retry_after},
            )
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":  # a compressed body's size says nothing of what it inflates to
            raise PayloadRejected(
                415, "unsupported_encoding", "rejected_malformed", "send the payload uncompressed"
            )
        declared = request.headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                raise PayloadRejected(
                    400, "invalid_payload", "rejected_malformed", "Content-Length is not a number"
                )
            if int(declared) > MAX_PAYLOAD_BYTES:  # refused before reading a byte of it
                raise _too_large()
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_PAYLOAD_BYTES:  # a chunked body, or one longer than it said
                raise _too_large()
        return bytes(body)


def _parse(body: bytes) -> Payload:
    try:
        return Payload.model_validate_json(body)
    except ValidationError as exc:
        raise PayloadRejected(400, "invalid_payload", "rejected_malformed", _problem(exc)) from None


def _too_large() -> PayloadRejected:
    return PayloadRejected(
        413, "payload_too_large", "rejected_too_large", f"a payload may be at most {MAX_PAYLOAD_BYTES} bytes"
    )


def _problem(exc: ValidationError) -> str:
    first = exc.errors(include_input=False)[0]
    if first["type"] == "json_invalid":
        return f"the payload is not valid JSON ({first['msg']})"
    location = ".".join(str(part) for part in first["loc"]) or "payload"
    return f"{location}: {first['msg']}"
