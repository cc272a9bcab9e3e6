"""TempoTraces against canned Tempo answers, shaped as Tempo 2.10/3.0 write them (the search example of
its API docs; trace by id as gogo/protobuf's jsonpb writes OTLP: base64 ids, enum names, 64-bit
numbers as strings): the exact requests, the summaries, ``airscope trace --json``'s shape, failures."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from airscope.errors import AirscopeError
from airscope.local import traces
from airscope.operator_mcp.sources import TraceQuery
from airscope.operator_mcp.tempo import TempoTraces, traceql

URL = "http://tempo.example:3200"
TRACE = "00f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9"  # leading zeros: Tempo's search leaves them out
SINCE = datetime(2026, 12, 7, 10, 0, 0, 500_000, tzinfo=UTC)
T0 = 1_796_637_601_000_000_000  # 2026-12-07T10:00:01Z, after SINCE


def _tempo(answer: httpx.Response | dict, seen: list[httpx.Request] | None = None, **kwargs) -> TempoTraces:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    return TempoTraces(URL, transport=httpx.MockTransport(handler), **kwargs)


def _found(trace_id: str, start_ns: int, **fields) -> dict:
    return {"traceID": trace_id, "startTimeUnixNano": str(start_ns)} | fields


SEARCH_ANSWER = {
    "traces": [
        _found(
            "f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9",
            T0,
            rootServiceName="api-gateway",
            rootTraceName="POST /v1/chat",
            durationMs=250,
            spanSets=[
                {
                    "spans": [
                        {
                            "spanID": "00f0f0f0f0f0f0f0",
                            "startTimeUnixNano": str(T0),
                            "durationNanos": "250000000",
                            "attributes": [{"key": "status", "value": {"stringValue": "error"}}],
                        }
                    ],
                    "matched": 1,
                }
            ],
            serviceStats={
                "llm-orchestrator": {"spanCount": 2},
                "api-gateway": {"spanCount": 1, "errorCount": 1},
            },
        ),
        # Newer, its root span not in Tempo yet, shorter than a millisecond (jsonpb leaves 0 out).
        _found(
            "2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f",
            T0 + 4_000_000_000,
            rootServiceName="<root span not yet received>",
            serviceStats={"automation-services": {"spanCount": 3}},
        ),
        # Began before SINCE: in Tempo's window because it reached into it.
        _found(
            "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a",
            T0 - 2_000_000_000,
            rootServiceName="api-gateway",
            rootTraceName="GET /v1/conversations",
            durationMs=3000,
            serviceStats={"api-gateway": {"spanCount": 1}},
        ),
    ],
    "metrics": {"inspectedTraces": 3, "inspectedBytes": "40960", "totalBlocks": 2},
}


def test_the_search_request_is_traceql_over_unix_seconds_with_the_tenant():
    seen: list[httpx.Request] = []
    before = datetime.now(UTC).timestamp()
    query = TraceQuery(service="api-gateway", min_duration_ns=250_000_000, errors=True, since=SINCE, limit=5)
    _tempo({"traces": []}, seen, tenant="team-a").recent(query)
    after = datetime.now(UTC).timestamp()

    (request,) = seen
    assert request.method == "GET"
    assert request.url.path == "/api/search"
    params = dict(request.url.params)
    assert params.pop("q") == (
        '{ resource.service.name = "api-gateway" || resource.service.instance.id = "api-gateway" }'
        " && { status = error } && { trace:duration >= 250ms } with (most_recent=true)"
    )
    assert int(params.pop("end")) in range(int(before), int(after) + 2)
    assert params == {"start": str(int(SINCE.timestamp())), "limit": "5"}
    assert request.headers["X-Scope-OrgID"] == "team-a"


def test_without_filters_any_trace_of_the_last_hour_and_no_tenant():
    seen: list[httpx.Request] = []
    _tempo({"metrics": {}}, seen).recent(TraceQuery())
    (request,) = seen
    assert request.url.params["q"] == "{ } with (most_recent=true)"
    assert int(request.url.params["end"]) - int(request.url.params["start"]) in (3600, 3601, 3602)
    assert "X-Scope-OrgID" not in request.headers


@pytest.mark.parametrize(
    ("ns", "literal"), [(2_000_000_000, "2000ms"), (1_500_000, "1500us"), (1_000, "1us"), (1_001, "1001ns")]
)
def test_the_minimum_duration_is_a_traceql_duration(ns: int, literal: str):
    assert (
        traceql(TraceQuery(min_duration_ns=ns))
        == f"{{ trace:duration >= {literal} }} with (most_recent=true)"
    )


def test_a_service_name_is_a_traceql_string():
    assert traceql(TraceQuery(service='a"b\\c')).startswith('{ resource.service.name = "a\\"b\\\\c" || ')


def test_summaries_newest_first_began_since_and_limited():
    summaries = _tempo(SEARCH_ANSWER).recent(TraceQuery(since=SINCE))
    assert summaries == [
        {
            "trace_id": "2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f",
            "root": {"service": None, "name": None, "parent_missing": True},
            "start_time": "2026-12-07T10:00:05.000Z",
            "duration_ms": 0.0,
            "span_count": 3,
            "services": ["automation-services"],
            "error": False,
        },
        {
            "trace_id": TRACE,
            "root": {"service": "api-gateway", "name": "POST /v1/chat", "parent_missing": False},
            "start_time": "2026-12-07T10:00:01.000Z",
            "duration_ms": 250.0,
            "span_count": 3,
            "services": ["api-gateway", "llm-orchestrator"],
            "error": True,
        },
    ]
    assert [s["trace_id"] for s in _tempo(SEARCH_ANSWER).recent(TraceQuery(since=SINCE, limit=1))] == [
        "2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f"
    ]


def test_what_a_search_answer_does_not_say_is_none():
    answer = {"traces": [_found(TRACE, T0, rootServiceName="api-gateway", rootTraceName="POST /v1/chat")]}
    (summary,) = _tempo(answer).recent(TraceQuery(since=SINCE))
    assert (summary["span_count"], summary["services"], summary["error"]) == (None, None, None)
    (asked_errors,) = _tempo(answer).recent(TraceQuery(since=SINCE, errors=True))
    assert asked_errors["error"] is True


def _span(span_id: str, parent: str | None, name: str, kind: str, start_ms: int, end_ms: int, **more) -> dict:
    span = {
        "traceId": "APn5+fn5+fn5+fn5+fn5+Q==",
        "spanId": span_id,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(T0 + start_ms * 1_000_000),
        "endTimeUnixNano": str(T0 + end_ms * 1_000_000),
        "status": {},
    } | more
    if parent:
        span["parentSpanId"] = parent
    return span


def _resource(service: str, instance: str, spans: list[dict]) -> dict:
    return {
        "resource": {
            "attributes": [
                {"key": "service.name", "value": {"stringValue": service}},
                {"key": "service.instance.id", "value": {"stringValue": instance}},
            ]
        },
        "scopeSpans": [{"scope": {"name": "airscope"}, "spans": spans}],
    }


# GET /api/v2/traces/<id>: base64 ids (00f0f0f0f0f0f0f0 = APDw8PDw8PA=, 5353535353535353 = U1NTU1NTU1M=,
# 1a1a1a1a1a1a1a1a = GhoaGhoaGho=).
TRACE_ANSWER = {
    "trace": {
        "resourceSpans": [
            _resource(
                "api-gateway",
                "api-gateway-7f9c",
                [
                    _span(
                        "APDw8PDw8PA=",
                        None,
                        "POST /v1/chat",
                        "SPAN_KIND_SERVER",
                        0,
                        250,
                        attributes=[{"key": "http.response.status_code", "value": {"intValue": "502"}}],
                        status={"code": "STATUS_CODE_ERROR", "message": "upstream timed out"},
                    )
                ],
            ),
            _resource(
                "llm-orchestrator",
                "llm-orchestrator-1b2c",
                [
                    _span("U1NTU1NTU1M=", "APDw8PDw8PA=", "POST /complete", "SPAN_KIND_SERVER", 10, 240),
                    _span(
                        "GhoaGhoaGho=",
                        "U1NTU1NTU1M=",
                        "llm.call",
                        "SPAN_KIND_CLIENT",
                        20,
                        230,
                        events=[{"timeUnixNano": str(T0 + 230_000_000), "name": "exception"}],
                    ),
                ],
            ),
        ]
    },
    "metrics": {"inspectedBytes": "2048"},
}


def _as_hex(answer: dict) -> dict:
    """The same trace with OTLP/JSON's hex ids, as the span files hold it."""
    hexed = copy.deepcopy(answer)
    ids = {
        "APn5+fn5+fn5+fn5+fn5+Q==": TRACE,
        "APDw8PDw8PA=": "00f0f0f0f0f0f0f0",
        "U1NTU1NTU1M=": "5353535353535353",
        "GhoaGhoaGho=": "1a1a1a1a1a1a1a1a",
    }
    for batch in hexed["trace"]["resourceSpans"]:
        for span in batch["scopeSpans"][0]["spans"]:
            for key in ("traceId", "spanId", "parentSpanId"):
                if key in span:
                    span[key] = ids[span[key]]
    return hexed


def test_a_trace_with_base64_ids_is_airscope_trace_json():
    seen: list[httpx.Request] = []
    tree = _tempo(TRACE_ANSWER, seen, tenant="team-a").trace(TRACE.upper())

    (request,) = seen
    assert request.url.path == f"/api/v2/traces/{TRACE}"
    assert request.headers["X-Scope-OrgID"] == "team-a"
    # The span files' reader on the same spans in hex gives the very same answer.
    local = traces.parse_line(
        orjson.dumps({"resourceSpans": _as_hex(TRACE_ANSWER)["trace"]["resourceSpans"]})
    )
    assert tree == traces.trace_json(traces.Trace(TRACE, local))
    assert tree["trace_id"] == TRACE
    assert (tree["span_count"], tree["services"], tree["error"]) == (
        3,
        ["api-gateway", "llm-orchestrator"],
        True,
    )
    (root,) = tree["spans"]
    assert (root["span_id"], root["status"], root["attributes"]) == (
        "00f0f0f0f0f0f0f0",
        "ERROR",
        {"http.response.status_code": 502},
    )
    (child,) = root["children"]
    assert (child["span_id"], child["parent_span_id"], child["service"]) == (
        "5353535353535353",
        "00f0f0f0f0f0f0f0",
        "llm-orchestrator",
    )
    assert child["children"][0]["span_id"] == "1a1a1a1a1a1a1a1a"


def test_hex_ids_and_the_older_batches_key_read_the_same():
    hexed = _as_hex(TRACE_ANSWER)
    batches = {"batches": hexed["trace"]["resourceSpans"]}
    assert _tempo({"trace": batches}).trace(TRACE) == _tempo(TRACE_ANSWER).trace(TRACE)


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(404, text="trace not found"), {"trace": {}, "metrics": {}}],
    ids=["404", "empty trace"],
)
def test_a_trace_tempo_does_not_hold_is_not_there_yet(answer):
    with pytest.raises(
        AirscopeError, match=rf"^trace {TRACE} is not in Tempo at http://tempo\.example:3200 \(yet\)"
    ):
        _tempo(answer).trace(TRACE)


@pytest.mark.parametrize(
    ("call", "answer", "cause"),
    [
        (
            "recent",
            httpx.Response(400, text="invalid TraceQL query: parse error at line 1, col 3"),
            "HTTP 400 from /api/search: invalid TraceQL",
        ),
        ("recent", httpx.Response(200, text="<html>proxy login</html>"), "not JSON"),
        ("recent", {"traces": {"not": "a list"}}, "no list of traces"),
        ("recent", {"traces": [{"traceID": "ab", "startTimeUnixNano": "soon"}]}, "without a start time"),
        (
            "trace",
            httpx.Response(500, text="error querying live-stores"),
            f"HTTP 500 from /api/v2/traces/{TRACE}: error querying",
        ),
        ("trace", {"status": "COMPLETE"}, "answered no trace"),
        (
            "trace",
            {
                "trace": {
                    "resourceSpans": [
                        _resource("x", "x-1", [_span("!!", None, "n", "SPAN_KIND_SERVER", 0, 1)])
                    ]
                }
            },
            "spanId '!!' is neither hex nor base64",
        ),
        (
            "trace",
            {"trace": {"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "APDw8PDw8PA="}]}]}]}},
            "not in OTLP's shape",
        ),
    ],
)
def test_every_failure_names_tempo_its_url_and_the_cause(call: str, answer, cause: str):
    source = _tempo(answer)
    with pytest.raises(AirscopeError) as raised:
        source.recent(TraceQuery()) if call == "recent" else source.trace(TRACE)
    assert str(raised.value).startswith(f"Tempo at {URL}: ")
    assert cause in str(raised.value)


def test_no_answer_names_tempo_and_the_url():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    source = TempoTraces(URL, transport=httpx.MockTransport(refuse))
    for call in (lambda: source.recent(TraceQuery()), lambda: source.trace(TRACE)):
        with pytest.raises(
            AirscopeError, match=r"^Tempo at http://tempo\.example:3200: no answer .*ConnectTimeout"
        ):
            call()
