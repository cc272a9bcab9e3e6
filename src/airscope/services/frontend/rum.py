"""``POST /rum``: the beacons the page sends about itself (errors, web vitals, page views, timings).

Anybody can post here, so a beacon is distrusted whole before any of it counts: a client address
may send ``burst`` beacons at once and ``rate`` a second after that (429), a beacon is at most
64 KiB (413), and it must match the schema below exactly, unknown fields included (400). Only
then does each event move its metric and write one log line; a rejected beacon moves nothing but
``rum_beacons_total``. Label values come from the closed sets of ``metrics``: a page or error kind
the UI does not have becomes ``other``, and free text (an error's message) only reaches the log,
shortened.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from airscope.services.common import ServiceError
from airscope.services.frontend import metrics
from airscope.telemetry import get_logger

log = get_logger(__name__)

MAX_BEACON_BYTES = 64 * 1024
MAX_EVENTS_PER_BEACON = 200
# How much of a browser's free text (error messages, script locations, paths) reaches a log line.
LOGGED_TEXT_CHARS = 300
MILLISECONDS_VITALS = frozenset(metrics.TIMED_VITALS)

TraceId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
LabelCandidate = Annotated[str, Field(max_length=64)]
FreeText = Annotated[str, Field(max_length=8192)]
Seconds = Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)]


def page_label(page: str) -> str:
    return page if page in metrics.PAGES else metrics.OTHER


def kind_label(kind: str) -> str:
    return kind if kind in metrics.ERROR_KINDS else metrics.OTHER


def shortened(text: str) -> str:
    return text if len(text) <= LOGGED_TEXT_CHARS else text[: LOGGED_TEXT_CHARS - 1] + "…"


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    page: LabelCandidate  # the UI view the event happened on

    def record(self, session: str | None) -> None:
        raise NotImplementedError


class PageView(_Event):
    type: Literal["page_view"]

    def record(self, session: str | None) -> None:
        page = page_label(self.page)
        metrics.PAGE_VIEWS.labels(page).inc()
        log.info("rum page view", page=page, session=session)


class JsError(_Event):
    type: Literal["js_error"]
    kind: LabelCandidate
    message: FreeText = ""
    source: FreeText = ""  # script:line:column, or the API path of a failed fetch
    status: int | None = Field(default=None, ge=0, le=999)  # a failed fetch's answer (0: no answer)
    trace_id: TraceId | None = None  # a failed fetch's traceparent: its backend trace

    def record(self, session: str | None) -> None:
        kind, page = kind_label(self.kind), page_label(self.page)
        metrics.JS_ERRORS.labels(kind, page).inc()
        log.info(
            "rum js error",
            kind=kind,
            page=page,
            error_message=shortened(self.message),
            source=shortened(self.source),
            status=self.status,
            trace_id_client=self.trace_id,
            session=session,
        )


class WebVital(_Event):
    type: Literal["web_vital"]
    name: Literal["LCP", "CLS", "INP", "FCP", "TTFB"]
    # As web-vitals reports it: milliseconds, except CLS (unitless).
    value: float = Field(ge=0, le=3_600_000, allow_inf_nan=False)
    rating: Literal["good", "needs-improvement", "poor"] | None = None

    def record(self, session: str | None) -> None:
        page = page_label(self.page)
        if self.name in MILLISECONDS_VITALS:
            seconds = self.value / 1000
            metrics.WEB_VITAL_SECONDS.labels(self.name, page).observe(seconds)
            log.info(
                "rum web vital",
                name=self.name,
                page=page,
                seconds=seconds,
                rating=self.rating,
                session=session,
            )
        else:
            metrics.CUMULATIVE_LAYOUT_SHIFT.labels(page).observe(self.value)
            log.info(
                "rum web vital",
                name=self.name,
                page=page,
                score=self.value,
                rating=self.rating,
                session=session,
            )


class ChatAnswer(_Event):
    """The page's first chat answer: from sending the message to the answer on screen."""

    type: Literal["chat_answer"]
    seconds: Seconds
    trace_id: TraceId | None = None

    def record(self, session: str | None) -> None:
        metrics.TIME_TO_FIRST_CHAT_ANSWER.observe(self.seconds)
        log.info(
            "rum first chat answer",
            page=page_label(self.page),
            seconds=self.seconds,
            trace_id_client=self.trace_id,
            session=session,
        )


class SlowCall(_Event):
    """An API call the user waited long for; its trace id leads to the backend's side of it."""

    type: Literal["slow_call"]
    path: FreeText
    status: int = Field(ge=0, le=999)
    seconds: Seconds
    trace_id: TraceId

    def record(self, session: str | None) -> None:
        log.info(
            "rum slow api call",
            page=page_label(self.page),
            path=shortened(self.path),
            status=self.status,
            seconds=self.seconds,
            trace_id_client=self.trace_id,
            session=session,
        )


Event = Annotated[PageView | JsError | WebVital | ChatAnswer | SlowCall, Field(discriminator="type")]


class Beacon(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # A random id per page load, so that one load's lines can be found together in the log.
    session: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$")
    events: list[Event] = Field(min_length=1, max_length=MAX_EVENTS_PER_BEACON)


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


class BeaconRejected(ServiceError):
    """A refused beacon: answered like any ServiceError, counted under its ``outcome``."""

    def __init__(
        self, status: int, code: str, outcome: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, code, message, headers=headers)
        self.outcome = outcome


class RumReceiver:
    def __init__(self, buckets: ClientBuckets) -> None:
        self.buckets = buckets

    async def receive(self, request: Request) -> Response:
        try:
            beacon = await self._admit(request)
        except BeaconRejected as rejected:
            metrics.BEACONS.labels(rejected.outcome).inc()
            raise
        for event in beacon.events:
            event.record(beacon.session)
        metrics.BEACONS.labels("accepted").inc()
        return Response(status_code=204)

    async def _admit(self, request: Request) -> Beacon:
        client = request.client.host if request.client else "unknown"
        wait = self.buckets.take(client)
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            raise BeaconRejected(
                429,
                "rate_limited",
                "rejected_rate_limited",
                f"too many beacons from this client; retry in {retry_after}s",
                headers={"Retry-After": retry_after},
            )
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise BeaconRejected(
                    400, "invalid_beacon", "rejected_malformed", "Content-Length is not a number"
                )
            if int(declared) > MAX_BEACON_BYTES:  # refused before reading a byte of it
                raise _too_large()
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BEACON_BYTES:  # a chunked body, or one longer than it said
                raise _too_large()
        try:
            return Beacon.model_validate_json(bytes(body))
        except ValidationError as exc:
            raise BeaconRejected(400, "invalid_beacon", "rejected_malformed", _problem(exc)) from None


def _too_large() -> BeaconRejected:
    return BeaconRejected(
        413, "beacon_too_large", "rejected_too_large", f"a beacon may be at most {MAX_BEACON_BYTES} bytes"
    )


def _problem(exc: ValidationError) -> str:
    first = exc.errors(include_input=False)[0]
    if first["type"] == "json_invalid":
        return f"the beacon is not valid JSON ({first['msg']})"
    location = ".".join(str(part) for part in first["loc"]) or "beacon"
    return f"{location}: {first['msg']}"
