"""``POST /faro/collect`` on the frontend as a subprocess: what an accepted Faro payload records
(metrics, log lines, the browser's spans in the trace directory), what is refused (malformed 400,
too large 413, compressed 415, too many 429) and that a refused payload records nothing, that no
payload can create a label value, and forwarding to a receiver that works, and to one that is down.
Plus the per-client token bucket and the forwarding queue as units.

Each test posts from its own client address (``X-Forwarded-For``, which uvicorn honours from
127.0.0.1), so the rate limit of one test does not reach into another. The payloads have the shape
the Faro Web SDK 2.12 sends (monitoring.js; the browser test shows the SDK's own).
"""

from __future__ import annotations

import copy
import gzip
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airscope.local.traces import read_spans
from airscope.services.frontend.faro import ClientBuckets, Forwarder
from airscope.telemetry import DROPPED
from tests.servers import AppServer, movement, scrape, value
from tests.support import wait_until

FRONTEND = "airscope.services.frontend"
SINK = "tests.services.frontend.sink:create_app"
BURST = 5
_addresses = (f"10.0.{n // 250}.{n % 250 + 1}" for n in itertools.count())
TRACE = "ab" * 16
SPAN = "cd" * 8


def meta(session: str = "s-default", view: str = "chat") -> dict:
    """What the SDK puts in every payload's meta: far more than is read here."""
    return {
        "sdk": {"name": "faro-web", "version": "2.12.1"},
        "app": {"name": "frontend-browser", "version": "0.1.0"},
        "browser": {"name": "Chrome", "brands": [{"brand": "Chromium", "version": "156"}], "mobile": False},
        "page": {"url": "http://127.0.0.1/#chat"},
        "session": {"id": session},
        "view": {"name": view},
    }


def vital(name: str, value: float, page: str = "chat", **values: float) -> dict:
    return {
        "type": "web-vitals",
        "values": {name: value, "delta": value, **values},
        "timestamp": "2026-12-07T05:39:47.883Z",
        "context": {"id": "v6-1", "rating": "good", "navigation_type": "navigate", "page": page},
    }


def view_changed(to: str, page: str | None = None) -> dict:
    return {
        "name": "view_changed",
        "domain": "browser",
        "attributes": {"fromView": "unknown", "toView": to, "page": page or to},
        "timestamp": "2026-12-07T05:39:47.825Z",
    }


def exception(kind: str | None, page: str = "chat", message: str = "boom", **context: str) -> dict:
    return {
        "type": "Error",
        "value": message,
        "timestamp": "2026-12-07T05:39:51.248Z",
        "context": {**({"kind": kind} if kind is not None else {}), "page": page, **context},
        "stacktrace": {
            "frames": [
                {
                    "filename": "http://127.0.0.1/static/app.js",
                    "function": "send",
                    "lineno": 356,
                    "colno": 11,
                },
                {"filename": "http://127.0.0.1/static/app.js", "lineno": 12, "colno": 3},
            ]
        },
        "fatal": False,  # a field this receiver does not read: ignored, not refused
    }


def browser_spans(service: str = "frontend-browser") -> dict:
    resource = {
        "attributes": [
            {"key": "service.name", "value": {"stringValue": service}},
            {"key": "browser.brands", "value": {"arrayValue": {"values": [{"stringValue": "Chromium"}]}}},
        ],
        "droppedAttributesCount": 0,
    }
    click = {
        "traceId": TRACE,
        "spanId": SPAN,
        "name": "send chat message",
        "kind": 1,
        "startTimeUnixNano": "1796621989684000000",
        "endTimeUnixNano": "1796621989728600000",
        "attributes": [{"key": "session.id", "value": {"stringValue": "s-traces"}}],
        "status": {"code": 0},
        "links": [],
        "flags": 257,
    }
    fetch = {
        **click,
        "spanId": "ef" * 8,
        "parentSpanId": SPAN,
        "name": "POST",
        "kind": 3,
        "attributes": [
            {"key": "url.full", "value": {"stringValue": "http://127.0.0.1/api/chat"}},
            {"key": "http.response.status_code", "value": {"intValue": 200}},
        ],
    }
    return {
        "resourceSpans": [
            {
                "resource": resource,
                "scopeSpans": [
                    {"scope": {"name": "frontend-browser"}, "spans": [click]},
                    {"scope": {"name": "@opentelemetry/instrumentation-fetch", "version": "0.222.0"}, "spans": [fetch]},
                ],
            }
        ]
    }  # fmt: skip


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traces")


@pytest.fixture(scope="module")
def frontend(module_apps, free_port, trace_dir) -> AppServer:
    env = {
        "AIRSCOPE_URL_API_GATEWAY": f"http://127.0.0.1:{free_port()}",
        "AIRSCOPE_TRACE_DIR": str(trace_dir),
        "FRONTEND_RUM_RATE_PER_SECOND": "0.01",
        "FRONTEND_RUM_BURST": str(BURST),
        "FRONTEND_FARO_FORWARD_URL": None,
    }
    return module_apps.start(FRONTEND, env)


def post(frontend: AppServer, body: object, *, address: str | None = None, **kwargs) -> httpx.Response:
    content = json.dumps(body).encode() if isinstance(body, dict | list) else body
    headers = {"X-Forwarded-For": address or next(_addresses), **kwargs.pop("headers", {})}
    return httpx.post(frontend.url + "/faro/collect", content=content, headers=headers, **kwargs)


def rum_samples(frontend: AppServer, *, beacons: bool = False) -> dict:
    return {
        key: sample
        for key, sample in scrape(frontend.url).items()
        if key[0].startswith("rum_") and (beacons or not key[0].startswith("rum_beacons"))
    }


def beacons(samples: dict, outcome: str) -> float:
    return value(samples, "rum_beacons_total", outcome=outcome)


def rum_lines(frontend: AppServer, session: str) -> list[dict]:
    return [r for r in frontend.log_records() if r.get("session") == session]


def without_beacons(samples: dict) -> dict:
    return {k: v for k, v in samples.items() if not k[0].startswith("rum_beacons")}


def test_an_accepted_payload_moves_each_metric_and_logs_each_item(frontend):
    before = rum_samples(frontend, beacons=True)
    answer = post(
        frontend,
        {
            "meta": meta("s-accepted", view="upload"),
            "events": [
                view_changed("default"),  # Faro's placeholder before the page names its view: not a view
                view_changed("chat"),
                {"name": "session_start", "domain": "browser", "timestamp": "2026-12-07T05:39:47.814Z"},
                {"name": "slow_api_call", "attributes": {"path": "POST /api/chat", "status": "200",
                 "seconds": "3.4", "page": "chat"}, "trace": {"trace_id": "cd" * 16, "span_id": SPAN}},
            ],
            "exceptions": [
                exception("error", message="E" * 5000, source="http://127.0.0.1/static/app.js:356:11"),
                exception("fetch", page="upload", message="HTTP 502", path="POST /api/automation/files",
                          status="502") | {"trace": {"trace_id": TRACE, "span_id": SPAN}},
            ],
            "measurements": [
                vital("fcp", 1200, first_byte_to_fcp=1000),
                vital("cls", 0.12, largest_shift_time=9_000_000),  # a timestamp: not bounded like the vital
                {"type": "first_chat_answer", "values": {"seconds": 3.5},
                 "trace": {"trace_id": "cd" * 16, "span_id": SPAN}},
            ],
            "logs": [{"message": "hello", "level": "info", "context": {"page": "chat"}}],
        },
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    moved = movement(before, rum_samples(frontend, beacons=True))

    assert moved("rum_page_views_total", page="chat") == 1
    assert moved("rum_page_views_total") == 1
    assert moved("rum_js_errors_total", kind="error", page="chat") == 1
    assert moved("rum_js_errors_total", kind="fetch", page="upload") == 1
    assert moved("rum_web_vital_seconds_count", name="FCP", page="chat") == 1
    assert moved("rum_web_vital_seconds_sum", name="FCP", page="chat") == pytest.approx(1.2)
    assert moved("rum_web_vital_seconds_bucket", name="FCP", page="chat", le="1.8") == 1
    assert moved("rum_web_vital_seconds_bucket", name="FCP", page="chat", le="1.0") == 0
    assert moved("rum_cumulative_layout_shift_sum", page="chat") == pytest.approx(0.12)
    assert moved("rum_time_to_first_chat_answer_seconds_sum") == pytest.approx(3.5)
    assert moved("rum_beacons_total", outcome="accepted") == 1

    lines = rum_lines(frontend, "s-accepted")
    assert [line["event"] for line in lines] == [
        "rum js error", "rum js error", "rum web vital", "rum web vital", "rum first chat answer",
        "rum page view", "rum slow api call",
    ]  # fmt: skip
    error = lines[0]
    assert error["kind"] == "error" and error["page"] == "chat" and error["error_type"] == "Error"
    assert len(error["error_message"]) == 300 and error["error_message"].startswith("EEE")
    assert error["source"] == "http://127.0.0.1/static/app.js:356:11"
    assert error["stack"].startswith("send@http://127.0.0.1/static/app.js:356:11 < ")
    assert lines[1]["trace_id_client"] == TRACE and lines[1]["status"] == 502
    assert lines[1]["source"] == "POST /api/automation/files"
    assert lines[2]["name"] == "FCP" and lines[2]["seconds"] == pytest.approx(1.2)
    assert lines[2]["rating"] == "good"
    assert lines[4]["trace_id_client"] == "cd" * 16
    assert lines[6]["trace_id_client"] == "cd" * 16 and lines[6]["seconds"] == pytest.approx(3.4)


def test_an_item_without_its_own_page_takes_the_payloads_view(frontend):
    before = rum_samples(frontend)
    item = exception("unhandledrejection")
    del item["context"]["page"]
    assert post(frontend, {"meta": meta(view="status"), "exceptions": [item]}).status_code == 202
    moved = movement(before, rum_samples(frontend))
    assert moved("rum_js_errors_total", kind="unhandledrejection", page="status") == 1


def test_unknown_pages_and_kinds_are_counted_as_other(frontend):
    before = rum_samples(frontend)
    payload = {
        "meta": meta(view="admin"),
        "events": [view_changed("admin")],
        "exceptions": [exception("SecurityError", page="<script>"), exception(None)],
    }
    assert post(frontend, payload).status_code == 202
    after = rum_samples(frontend)
    assert movement(before, after)("rum_page_views_total", page="other") == 1
    assert movement(before, after)("rum_js_errors_total", kind="other", page="other") == 1
    assert movement(before, after)("rum_js_errors_total", kind="other", page="chat") == 1
    assert {labels for _, labels in after} == {labels for _, labels in before}


def test_ten_thousand_hostile_label_values_create_no_series(frontend):
    # The series an unknown page and kind map to, once: they exist from here on.
    warm_up = {"meta": meta(), "exceptions": [exception("warm-up", page="warm-up")],
               "measurements": [vital("lcp", 1, page="warm-up")], "events": [view_changed("warm-up")]}  # fmt: skip
    assert post(frontend, warm_up).status_code == 202
    before = rum_samples(frontend)
    for start in range(0, 10_000, 600):  # 200 items of each list: the most a payload may carry
        numbers = range(start, min(start + 600, 10_000))
        payload = {
            "meta": meta(view=f"view-{start}"),
            "exceptions": [exception(f"kind-{n}", page=f"page-{n}") for n in numbers if n % 3 == 0],
            "measurements": [vital("lcp", n, page=f"page-{n}") for n in numbers if n % 3 == 1],
            "events": [view_changed(f"page-{n}") for n in numbers if n % 3 == 2],
        }
        assert post(frontend, payload).status_code == 202
    after = rum_samples(frontend)
    assert set(after) == set(before)
    assert movement(before, after)("rum_js_errors_total", kind="other", page="other") == 3334
    assert movement(before, after)("rum_page_views_total", page="other") == 3333


def payload_with(**changes: object) -> dict:
    payload = {"meta": meta(), "events": [view_changed("chat")], "measurements": [vital("lcp", 100)]}
    payload.update(copy.deepcopy(changes))
    return payload


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"meta": {', "the payload is not valid JSON"),
        (b"", "the payload is not valid JSON"),
        ([{"meta": {}}], "payload: Input should be an object"),
        ({"events": []}, "meta: Field required"),
        (payload_with(cookie="x"), "cookie: Extra inputs are not permitted"),
        (payload_with(meta={"session": {"id": "<script>"}}), "meta.session.id: String should match"),
        (payload_with(meta={"view": {"name": "v" * 65}}), "meta.view.name: String should have at most 64"),
        (payload_with(measurements=[vital("fid", 1)]), "a web-vitals measurement names one of"),
        (payload_with(measurements=[vital("lcp", -1)]), "lcp must be between 0 and 3600000"),
        (payload_with(measurements=[vital("lcp", 1) | {"values": {"lcp": "12"}}]), "measurements.0.values.lcp"),
        (payload_with(measurements=[{"type": "first_chat_answer", "values": {"seconds": 4000}}]), "seconds between"),
        (payload_with(measurements=[{"type": "first_chat_answer", "values": {}}]), "seconds between"),
        (payload_with(events=[{"name": "slow_api_call", "attributes": {"seconds": "nan"}}]), "seconds between"),
        (payload_with(events=[{"name": "x", "attributes": {"n": 1}}]), "events.0.attributes.n"),
        (payload_with(exceptions=[exception("error") | {"trace": {"trace_id": "zz"}}]), "exceptions.0.trace.trace_id"),
        (payload_with(exceptions=[{"value": "no type"}]), "exceptions.0.type: Field required"),
        (payload_with(exceptions=[exception("error", message="x" * 8193)]), "exceptions.0.value"),
        (payload_with(events=[view_changed("chat")] * 201), "events: List should have at most 200 items"),
        (payload_with(traces={"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "x"}]}]}]}), "traces.resourceSpans.0"),
    ],
)  # fmt: skip
def test_a_malformed_payload_is_a_400_and_records_nothing(frontend, body, problem):
    before = rum_samples(frontend, beacons=True)
    answer = post(frontend, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_payload"
    assert problem in answer.json()["message"]
    after = rum_samples(frontend, beacons=True)
    assert beacons(after, "rejected_malformed") - beacons(before, "rejected_malformed") == 1
    assert without_beacons(after) == without_beacons(before)


def test_one_bad_item_refuses_the_whole_payload(frontend, trace_dir):
    before = rum_samples(frontend)
    payload = {
        "meta": meta("s-refused"),
        "events": [view_changed("chat")],
        "exceptions": [exception("error")],
        "measurements": [vital("lcp", 100), {"type": "web-vitals", "values": {"delta": 1}}],
        "traces": browser_spans(),
    }
    answer = post(frontend, payload)
    assert answer.status_code == 400
    assert "measurements.1: Value error, a web-vitals measurement names one of" in answer.json()["message"]
    assert rum_samples(frontend) == before
    assert rum_lines(frontend, "s-refused") == []
    assert not [s for s in read_spans(trace_dir) if s.trace_id == TRACE]


def test_a_payload_over_256_kib_is_a_413_whether_its_length_is_declared_or_not(frontend):
    before = rum_samples(frontend, beacons=True)
    too_large = json.dumps(payload_with(exceptions=[exception("error", message="x" * 8000)] * 30)).encode()
    too_large += b" " * (257 * 1024 - len(too_large))
    assert len(too_large) == 257 * 1024

    declared = post(frontend, too_large)
    assert declared.status_code == 413
    assert declared.json() == {
        "error": "payload_too_large",
        "message": "a payload may be at most 262144 bytes",
    }

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count what it reads
        for start in range(0, len(too_large), 4096):
            yield too_large[start : start + 4096]

    assert post(frontend, chunks()).status_code == 413
    after = rum_samples(frontend, beacons=True)
    assert beacons(after, "rejected_too_large") - beacons(before, "rejected_too_large") == 2
    assert beacons(after, "accepted") == beacons(before, "accepted")
    assert without_beacons(after) == without_beacons(before)


def test_a_compressed_payload_is_refused_with_415(frontend):
    """A gzip body's size bounds nothing: a few KiB inflate to gigabytes. The page never compresses."""
    before = rum_samples(frontend, beacons=True)
    body = gzip.compress(json.dumps(payload_with()).encode())
    answer = post(frontend, body, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 415
    assert answer.json()["error"] == "unsupported_encoding"
    after = rum_samples(frontend, beacons=True)
    assert beacons(after, "rejected_malformed") - beacons(before, "rejected_malformed") == 1
    assert without_beacons(after) == without_beacons(before)


def test_a_client_sending_too_many_payloads_gets_429s_and_others_do_not(frontend):
    before = rum_samples(frontend, beacons=True)
    payload = {"meta": meta(), "events": [view_changed("status")]}
    answers = [post(frontend, payload, address="192.0.2.7").status_code for _ in range(BURST + 3)]
    assert answers == [202] * BURST + [429] * 3
    refused = post(frontend, payload, address="192.0.2.7")
    assert refused.json()["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1  # Faro's transport waits that long, then retries
    assert post(frontend, payload, address="192.0.2.8").status_code == 202
    after = rum_samples(frontend, beacons=True)
    assert beacons(after, "rejected_rate_limited") - beacons(before, "rejected_rate_limited") == 4
    assert movement(before, after)("rum_page_views_total", page="status") == BURST + 1


def test_the_browsers_spans_land_in_the_trace_directory_as_the_browsers_service(frontend, trace_dir):
    # A page cannot write spans as another service: the resource is renamed, unread fields dropped.
    payload = {"meta": meta("s-traces"), "traces": browser_spans(service="api-gateway")}
    payload["traces"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["unread"] = "dropped"
    assert post(frontend, payload).status_code == 202

    spans = {s.name: s for s in read_spans(trace_dir) if s.trace_id == TRACE}
    assert set(spans) == {"send chat message", "POST"}
    assert {s.service for s in spans.values()} == {"frontend-browser"}
    assert spans["POST"].parent_span_id == SPAN and spans["POST"].kind == 3
    assert spans["POST"].attributes() == {
        "url.full": "http://127.0.0.1/api/chat",
        "http.response.status_code": 200,
    }
    assert spans["send chat message"].resource["browser.brands"] is None  # an array: its value dropped
    [line] = [
        line for line in (trace_dir / "frontend-browser.jsonl").read_text().splitlines() if TRACE in line
    ]
    assert "unread" not in line


# --- forwarding to Alloy's faro.receiver (production) ---------------------------------------------


def test_accepted_payloads_are_forwarded_as_received_and_refused_ones_are_not(run_app, free_port):
    sink = run_app(SINK, ready_path="/received")
    server = run_app(
        FRONTEND,
        {
            "AIRSCOPE_URL_API_GATEWAY": f"http://127.0.0.1:{free_port()}",
            "FRONTEND_FARO_FORWARD_URL": sink.url + "/collect",
        },
    )
    accepted = json.dumps(payload_with(traces=browser_spans())).encode()
    assert post(server, accepted).status_code == 202
    assert post(server, payload_with(cookie="x")).status_code == 400

    def forwarded() -> list[dict]:
        received = httpx.get(sink.url + "/received").json()
        assert received, "nothing forwarded yet"
        return received

    [request] = wait_until(forwarded, 10, message="the payload forwarded")
    assert request["body"] == accepted.decode()  # byte for byte, traces and all
    assert request["content_type"] == "application/json"
    assert request["traceparent"] is None  # telemetry's own traffic is not traced
    assert value(scrape(server.url), "telemetry_dropped_total", signal="rum") == 0


def test_a_receiver_that_is_down_never_fails_the_page_and_every_lost_payload_is_counted(run_app, free_port):
    server = run_app(
        FRONTEND,
        {
            "AIRSCOPE_URL_API_GATEWAY": f"http://127.0.0.1:{free_port()}",
            "FRONTEND_FARO_FORWARD_URL": f"http://127.0.0.1:{free_port()}/collect",  # nothing listens
        },
    )
    answers = [post(server, payload_with()).status_code for _ in range(3)]
    assert answers == [202] * 3

    def all_counted() -> bool:
        assert value(scrape(server.url), "telemetry_dropped_total", signal="rum") == 3
        return True

    wait_until(all_counted, 10, message="the three lost payloads counted")
    warnings = [r for r in server.log_records() if r.get("event", "").startswith("faro forwarding failing")]
    assert len(warnings) == 1  # one line when it starts failing, not one per payload


def test_the_forwarding_queue_drops_and_counts_what_does_not_fit():
    forward = Forwarder("http://alloy.invalid/collect", max_bytes=100, timeout=1)
    before = DROPPED.value("rum")
    assert forward.offer(b"x" * 60)
    assert not forward.offer(b"x" * 60)  # 120 bytes would be queued
    assert forward.offer(b"x" * 40)
    assert forward.queued_bytes == 100
    assert DROPPED.value("rum") - before == 1


# --- the token bucket ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_refills_at_its_rate():
    clock = Clock()
    buckets = ClientBuckets(rate=2.0, burst=3, max_clients=10, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a") == 0
    assert buckets.take("b") == 0  # every client has its own bucket
    clock.now += 60
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]  # full again, never above the burst
    assert buckets.take("a") > 0


def test_the_buckets_keep_at_most_max_clients_forgetting_the_least_recently_seen():
    clock = Clock()
    buckets = ClientBuckets(rate=0.001, burst=1, max_clients=3, clock=clock)
    for client in ("a", "b", "c"):
        buckets.take(client)
    assert buckets.take("a") > 0  # a is now the most recently seen
    buckets.take("d")  # b, the least recently seen, is forgotten
    assert len(buckets) == 3
    assert buckets.take("b") == 0  # a new, full bucket
    assert buckets.take("a") > 0  # still remembered and still empty


def test_every_closed_set_series_is_exported_before_its_first_event(frontend):
    """rate() sees no increase in a series born at 1: a vital's first page loads would never reach a
    p75 panel, nor a first error a rate. Every label value of the closed sets is there from the start."""
    from airscope.services.frontend import metrics

    exported = {(name, labels) for name, labels in scrape(frontend.url)}
    pages = (*metrics.PAGES, metrics.OTHER)
    wanted = {("rum_page_views_total", frozenset({("page", p)})) for p in pages}
    wanted |= {
        ("rum_js_errors_total", frozenset({("kind", k), ("page", p)}))
        for k in (*metrics.ERROR_KINDS, metrics.OTHER)
        for p in pages
    }
    wanted |= {
        ("rum_web_vital_seconds_count", frozenset({("name", v), ("page", p)}))
        for v in metrics.TIMED_VITALS
        for p in pages
    }
    wanted |= {("rum_cumulative_layout_shift_count", frozenset({("page", p)})) for p in pages}
    wanted |= {("rum_time_to_first_chat_answer_seconds_count", frozenset())}
    wanted |= {("rum_beacons_total", frozenset({("outcome", o)})) for o in metrics.BEACON_OUTCOMES}
    assert wanted - exported == set()
