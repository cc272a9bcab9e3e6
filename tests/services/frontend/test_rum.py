"""``POST /rum`` on the frontend as a subprocess: what an accepted beacon records, what is refused
(malformed 400, too large 413, too many 429) and that a refused beacon records nothing, and that
no beacon can create a label value. Plus the per-client token bucket as a unit.

Each test posts from its own client address (``X-Forwarded-For``, which uvicorn honours from
127.0.0.1), so the rate limit of one test does not reach into another.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import httpx
import pytest

from airscope.services.frontend.rum import ClientBuckets
from tests.servers import AppServer, movement, scrape, value

FRONTEND = "airscope.services.frontend"
BURST = 5
_addresses = (f"10.0.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@pytest.fixture(scope="module")
def frontend(module_apps, free_port) -> AppServer:
    env = {
        "AIRSCOPE_URL_API_GATEWAY": f"http://127.0.0.1:{free_port()}",
        "FRONTEND_RUM_RATE_PER_SECOND": "0.01",
        "FRONTEND_RUM_BURST": str(BURST),
    }
    return module_apps.start(FRONTEND, env)


def post(frontend: AppServer, body: object, *, address: str | None = None, **kwargs) -> httpx.Response:
    content = json.dumps(body).encode() if isinstance(body, dict | list) else body
    headers = {"X-Forwarded-For": address or next(_addresses), **kwargs.pop("headers", {})}
    return httpx.post(frontend.url + "/rum", content=content, headers=headers, **kwargs)


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


def test_an_accepted_beacon_moves_each_metric_and_logs_each_event(frontend):
    before = rum_samples(frontend, beacons=True)
    answer = post(
        frontend,
        {
            "session": "s-accepted",
            "events": [
                {"type": "page_view", "page": "chat"},
                {"type": "js_error", "page": "chat", "kind": "error", "message": "E" * 5000,
                 "source": "app.js:1:2"},
                {"type": "js_error", "page": "upload", "kind": "fetch", "message": "HTTP 502", "status": 502,
                 "source": "POST /api/automation/files", "trace_id": "ab" * 16},
                {"type": "web_vital", "page": "chat", "name": "FCP", "value": 1200, "rating": "good"},
                {"type": "web_vital", "page": "chat", "name": "CLS", "value": 0.12},
                {"type": "chat_answer", "page": "chat", "seconds": 3.5, "trace_id": "cd" * 16},
                {"type": "slow_call", "page": "chat", "path": "POST /api/chat", "status": 200, "seconds": 3.4,
                 "trace_id": "cd" * 16},
            ],
        },
    )  # fmt: skip
    assert answer.status_code == 204, answer.text
    moved = movement(before, rum_samples(frontend, beacons=True))

    assert moved("rum_page_views_total", page="chat") == 1
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
        "rum page view", "rum js error", "rum js error", "rum web vital", "rum web vital",
        "rum first chat answer", "rum slow api call",
    ]  # fmt: skip
    error = lines[1]
    assert error["kind"] == "error" and error["page"] == "chat"
    assert len(error["error_message"]) == 300 and error["error_message"].startswith("EEE")
    assert lines[2]["trace_id_client"] == "ab" * 16 and lines[2]["status"] == 502
    assert lines[6]["trace_id_client"] == "cd" * 16


def test_unknown_pages_and_kinds_are_counted_as_other(frontend):
    before = rum_samples(frontend)
    events = [
        {"type": "page_view", "page": "admin"},
        {"type": "js_error", "page": "<script>", "kind": "SecurityError", "message": "x"},
    ]
    assert post(frontend, {"events": events}).status_code == 204
    after = rum_samples(frontend)
    assert movement(before, after)("rum_page_views_total", page="other") == 1
    assert movement(before, after)("rum_js_errors_total", kind="other", page="other") == 1
    assert {labels for _, labels in after} == {labels for _, labels in before}


def test_ten_thousand_hostile_label_values_create_no_series(frontend):
    # The series an unknown page and kind map to, once: they exist from here on.
    warm_up = [
        {"type": "js_error", "page": "warm-up", "kind": "warm-up"},
        {"type": "web_vital", "page": "warm-up", "name": "LCP", "value": 1},
    ]
    assert post(frontend, {"events": warm_up}).status_code == 204
    before = rum_samples(frontend)
    events = [
        {"type": "js_error", "page": f"page-{n}", "kind": f"kind-{n}", "message": "x"}
        if n % 2
        else {"type": "web_vital", "page": f"page-{n}", "name": "LCP", "value": n}
        for n in range(10_000)
    ]
    for start in range(0, len(events), 200):  # the most events a beacon may carry
        assert post(frontend, {"events": events[start : start + 200]}).status_code == 204
    after = rum_samples(frontend)
    assert set(after) == set(before)
    assert movement(before, after)("rum_js_errors_total", kind="other", page="other") == 5_000


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"events": [', "the beacon is not valid JSON"),
        (b"", "the beacon is not valid JSON"),
        ({"events": [{"type": "page_view", "page": "chat"}], "cookie": "x"}, "cookie: Extra inputs"),
        ({"events": [{"type": "page_view", "page": "chat", "url": "/x"}]}, "events.0.page_view.url: Extra"),
        ({"events": []}, "events: List should have at least 1 item"),
        ({"events": [{"type": "web_vital", "page": "chat", "name": "FID", "value": 1}]}, "events.0.web_vital.name"),
        ({"events": [{"type": "web_vital", "page": "chat", "name": "LCP", "value": "12"}]}, "events.0.web_vital.value"),
        ({"events": [{"type": "web_vital", "page": "chat", "name": "LCP", "value": -1}]}, "events.0.web_vital.value"),
        ({"events": [{"type": "js_error", "page": "p" * 65, "kind": "error"}]}, "events.0.js_error.page"),
        ({"events": [{"type": "chat_answer", "page": "chat", "seconds": 1, "trace_id": "zz"}]}, "trace_id"),
        ({"events": [{"type": "mystery", "page": "chat"}]}, "events.0"),
        ([{"type": "page_view", "page": "chat"}], "beacon"),
    ],
)  # fmt: skip
def test_a_malformed_beacon_is_a_400_and_records_nothing(frontend, body, problem):
    before = rum_samples(frontend, beacons=True)
    answer = post(frontend, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_beacon"
    assert problem in answer.json()["message"]
    after = rum_samples(frontend, beacons=True)
    assert beacons(after, "rejected_malformed") - beacons(before, "rejected_malformed") == 1
    assert {k: v for k, v in after.items() if not k[0].startswith("rum_beacons")} == {
        k: v for k, v in before.items() if not k[0].startswith("rum_beacons")
    }


def test_one_bad_event_refuses_the_whole_beacon(frontend):
    before = rum_samples(frontend)
    good = [{"type": "page_view", "page": "chat"}, {"type": "js_error", "page": "chat", "kind": "error"}]
    answer = post(frontend, {"session": "s-refused", "events": [*good, {"type": "page_view"}]})
    assert answer.status_code == 400
    assert "events.2.page_view.page: Field required" in answer.json()["message"]
    assert rum_samples(frontend) == before
    assert rum_lines(frontend, "s-refused") == []


def test_a_beacon_over_64_kib_is_a_413_whether_its_length_is_declared_or_not(frontend):
    before = rum_samples(frontend, beacons=True)
    events = [{"type": "js_error", "page": "chat", "kind": "error", "message": "x" * 8000} for _ in range(9)]
    short_by = 65 * 1024 - len(json.dumps({"events": events}))
    events[-1]["message"] = "x" * (8000 + short_by)
    too_large = json.dumps({"events": events}).encode()
    assert len(too_large) == 65 * 1024

    declared = post(frontend, too_large)
    assert declared.status_code == 413
    assert declared.json() == {"error": "beacon_too_large", "message": "a beacon may be at most 65536 bytes"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count what it reads
        for start in range(0, len(too_large), 4096):
            yield too_large[start : start + 4096]

    assert post(frontend, chunks()).status_code == 413
    after = rum_samples(frontend, beacons=True)
    assert beacons(after, "rejected_too_large") - beacons(before, "rejected_too_large") == 2
    assert beacons(after, "accepted") == beacons(before, "accepted")
    assert {k: v for k, v in after.items() if not k[0].startswith("rum_beacons")} == {
        k: v for k, v in before.items() if not k[0].startswith("rum_beacons")
    }


def test_a_client_sending_too_many_beacons_gets_429s_and_others_do_not(frontend):
    before = rum_samples(frontend, beacons=True)
    beacon = {"events": [{"type": "page_view", "page": "status"}]}
    answers = [post(frontend, beacon, address="192.0.2.7").status_code for _ in range(BURST + 3)]
    assert answers == [204] * BURST + [429] * 3
    refused = post(frontend, beacon, address="192.0.2.7")
    assert refused.json()["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert post(frontend, beacon, address="192.0.2.8").status_code == 204
    after = rum_samples(frontend, beacons=True)
    assert beacons(after, "rejected_rate_limited") - beacons(before, "rejected_rate_limited") == 4
    assert movement(before, after)("rum_page_views_total", page="status") == BURST + 1


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
    assert wanted - exported == set()
