import random
import string

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from airscope.telemetry import LATENCY_BUCKETS, instrument
from tests.telemetry.apps import sample_app

pytestmark = pytest.mark.anyio

DURATION = "http_server_request_duration_seconds"


async def test_counts_and_labels_after_known_requests(kit):
    async with kit.client() as client:
        for item in range(3):
            assert (await client.get(f"/items/{item}")).status_code == 200
        assert (await client.post("/items")).status_code == 200
        assert (await client.get("/items/not-a-number")).status_code == 422

    assert kit.sample(f"{DURATION}_count", method="GET", route="/items/{item_id}", status="200") == 3
    assert kit.sample(f"{DURATION}_count", method="POST", route="/items", status="200") == 1
    assert kit.sample(f"{DURATION}_count", method="GET", route="/items/{item_id}", status="422") == 1
    assert kit.sample(f"{DURATION}_bucket", method="POST", route="/items", status="200", le="+Inf") == 1
    assert kit.sample(f"{DURATION}_sum", method="POST", route="/items", status="200") > 0
    assert kit.sample("http_server_active_requests") == 0
    assert kit.sample("service_build_info", version="1.2.3", commit="unknown") == 1


async def test_route_label_is_the_template_never_the_path(kit):
    async with kit.client() as client:
        await client.get("/items/42")
    routes = {
        sample.labels["route"]
        for metric in kit.registry.collect()
        if metric.name == DURATION
        for sample in metric.samples
    }
    assert routes == {"/items/{item_id}"}


async def test_unhandled_exception_is_a_500_counted_under_its_route(kit):
    async with kit.client() as client:
        response = await client.get("/fail")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "internal server error"}
    assert kit.sample(f"{DURATION}_count", method="GET", route="/fail", status="500") == 1
    errors = [r for r in kit.logs.records() if r["event"] == "unhandled exception"]
    assert len(errors) == 1 and "the handler broke" in errors[0]["exception"]


def _every_series(kit) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for metric in kit.registry.collect()
        for sample in metric.samples
    }


async def test_ten_thousand_hostile_paths_methods_headers_and_queries_add_no_series(kit):
    rng = random.Random(7)

    def junk(k: int) -> str:
        return "".join(rng.choices(string.ascii_letters + string.digits + "-_.~%<>'\"{}$", k=k))

    async with kit.client() as client:
        before: set = set()
        for n in range(11_000):
            # The first thousand meet every closed-set combination once (method _OTHER on a real
            # route, a 405...); the next ten thousand must add nothing.
            if n == 1_000:
                before = _every_series(kit)
            path = rng.choice(
                [
                    "/" + "/".join(junk(rng.randint(1, 12)) for _ in range(rng.randint(1, 4))),
                    f"/items/{junk(8)}",  # a real route with a hostile parameter: 422 under its template
                ]
            )
            method = rng.choice(["GET", "BREW", "PROPFIND", "X" * rng.randint(1, 20)])
            headers = {
                "User-Agent": junk(30),
                "X-Client-Id": junk(16),
                "X-Request-Id": junk(16),
                "traceparent": f"00-{junk(32)}-{junk(16)}-01",
                "X-Forwarded-For": f"10.{n % 256}.{n // 256 % 256}.1",
            }
            await client.request(method, path, params={junk(5): junk(10)}, headers=headers)
    # Counts moved; no metric gained a series (a label value) from anything a caller sent.
    assert _every_series(kit) == before
    values = {value for _, labels in before for _, value in labels}
    assert not any(set(value) & set("<>'\"$%") for value in values), values  # none of the junk's characters
    assert kit.sample(f"{DURATION}_count", method="_OTHER", route="_unmatched", status="404") > 0


async def test_every_response_carries_the_trace_id_of_its_span(kit):
    async with kit.client() as client:
        response = await client.get("/items/1")
    (span,) = [s for s in kit.spans.get_finished_spans() if s.kind.name == "SERVER"]
    assert response.headers["x-trace-id"] == format(span.context.trace_id, "032x")
    assert span.name == "GET /items/{item_id}"
    assert span.attributes["http.route"] == "/items/{item_id}"
    assert span.attributes["http.response.status_code"] == 200


async def test_openmetrics_carries_trace_id_exemplars_for_sampled_requests(kit):
    async with kit.client() as client:
        response = await client.get("/items/1")
        metrics = await client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        plain = await client.get("/metrics")
    assert metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert plain.headers["content-type"].startswith("text/plain")
    exemplars = [
        sample.exemplar
        for family in text_string_to_metric_families(metrics.text)
        if family.name == DURATION
        for sample in family.samples
        if sample.exemplar is not None and sample.labels.get("route") == "/items/{item_id}"
    ]
    assert [e.labels["trace_id"] for e in exemplars] == [response.headers["x-trace-id"]]
    assert "# {" not in plain.text


async def test_unsampled_requests_carry_no_exemplar(make_kit):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    kit = make_kit(tracer_provider=TracerProvider(sampler=ALWAYS_OFF))
    async with kit.client() as client:
        response = await client.get("/items/1")
        metrics = await client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
    assert len(response.headers["x-trace-id"]) == 32
    assert "trace_id=" not in metrics.text


async def test_without_tracing_responses_still_carry_a_trace_id(make_kit):
    kit = make_kit(tracing=False)
    async with kit.client() as client:
        first = await client.get("/items/1")
        second = await client.get("/items/1")
    assert len(first.headers["x-trace-id"]) == 32
    assert first.headers["x-trace-id"] != second.headers["x-trace-id"]


async def test_request_id_is_kept_when_well_formed_and_replaced_when_not(kit):
    async with kit.client() as client:
        kept = await client.get("/items/1", headers={"X-Request-Id": "abc-123"})
        replaced = await client.get("/items/1", headers={"X-Request-Id": "bad id\n{injected}"})
    assert kept.headers["x-request-id"] == "abc-123"
    assert replaced.headers["x-request-id"] not in ("bad id\n{injected}", "")


def test_latency_buckets_are_sorted_and_cover_web_and_llm_latency():
    assert list(LATENCY_BUCKETS) == sorted(LATENCY_BUCKETS)
    assert LATENCY_BUCKETS[0] <= 0.005 and LATENCY_BUCKETS[-1] >= 30


async def test_process_metrics_are_exported(kit):
    async with kit.client() as client:
        text = (await client.get("/metrics")).text
    assert "process_resident_memory_bytes" in text
    assert "python_info" in text


async def test_uninstrument_removes_routes_middleware_and_metrics():
    app = sample_app()
    registry = CollectorRegistry()
    instrumentation = instrument(app, service="sample", version="1", registry=registry, tracing=False)
    instrumentation.uninstrument()
    assert list(registry.collect()) == []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/metrics")).status_code == 404
        response = await client.get("/items/1")
    assert "x-trace-id" not in response.headers
    # Nothing was left registered: the same registry takes a new instrumentation.
    instrument(sample_app(), service="sample", version="1", registry=registry, tracing=False).uninstrument()


async def test_active_requests_counts_the_requests_in_flight(make_kit):
    app = FastAPI()
    seen = []
    holder = {}

    @app.get("/inside")
    async def inside() -> dict:
        seen.append(holder["kit"].sample("http_server_active_requests"))
        return {}

    holder["kit"] = kit = make_kit(app=app)
    async with kit.client() as client:
        await client.get("/inside")
        await client.get("/inside")
    assert seen == [1, 1]
    assert kit.sample("http_server_active_requests") == 0
