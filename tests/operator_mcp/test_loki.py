"""LokiLogs against canned Loki answers (the query_range shapes of Loki 3.x's HTTP API docs): the exact
request, the LogQL Alloy's labels make, the lines in LocalLogs' shapes, and every failure named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from airscope.errors import AirscopeError
from airscope.operator_mcp.loki import LokiLogs, logql
from airscope.operator_mcp.sources import LogQuery

URL = "http://loki.example:3100"
TRACE = "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b"
SINCE = datetime(2026, 12, 7, 10, 0, 0, 250_000, tzinfo=UTC)
UNTIL = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
SINCE_NS = 1_796_637_600_250_000_000
UNTIL_NS = 1_796_639_400_000_000_000

JSON_LINE = {
    "timestamp": "2026-12-07T10:00:01.500Z",
    "level": "error",
    "service": "api-gateway",
    "event": "upstream timed out",
    "trace_id": TRACE,
}


def _streams(*streams: tuple[dict, list[tuple[int, str]]]) -> dict:
    """A query_range answer for log streams: values newest first, as direction=backward gives them."""
    return {
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [
                {"stream": labels, "values": [[str(ns), line] for ns, line in values]}
                for labels, values in streams
            ],
            "stats": {"summary": {"totalEntriesReturned": sum(len(v) for _, v in streams)}},
        },
    }


def _loki(answer: httpx.Response | dict, seen: list[httpx.Request] | None = None, **kwargs) -> LokiLogs:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    return LokiLogs(URL, transport=httpx.MockTransport(handler), **kwargs)


def test_the_request_is_a_backward_query_range_with_the_tenant():
    seen: list[httpx.Request] = []
    query = LogQuery(
        services=("llm.orchestrator", "api-gateway"),
        level="error",
        trace_id=TRACE,
        since=SINCE,
        until=UNTIL,
        grep='said "no" \\ twice',
        limit=7,
    )
    _loki(_streams(), seen, tenant="team-a").lines(query)

    (request,) = seen
    assert request.method == "GET"
    assert request.url.path == "/loki/api/v1/query_range"
    assert dict(request.url.params) == {
        "query": '{service=~"api-gateway|llm\\\\.orchestrator", level=~"error|critical"}'
        ' |= "said \\"no\\" \\\\ twice" | trace_id="4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b"',
        "start": str(SINCE_NS),
        "end": str(UNTIL_NS + 1),  # Loki's end is exclusive
        "limit": "7",
        "direction": "backward",
    }
    assert request.headers["X-Scope-OrgID"] == "team-a"


def test_without_filters_every_stream_of_the_last_15_minutes_and_no_tenant():
    seen: list[httpx.Request] = []
    before = datetime.now(UTC)
    _loki(_streams(), seen).lines(LogQuery())
    after = datetime.now(UTC)

    (request,) = seen
    params = request.url.params
    assert params["query"] == '{service=~".+"}'
    start, end = int(params["start"]), int(params["end"])
    assert end - start == 15 * 60 * 10**9 + 1
    assert before.timestamp() * 1e9 - 1e6 <= end <= after.timestamp() * 1e9 + 1e6
    assert "X-Scope-OrgID" not in request.headers


@pytest.mark.parametrize(
    ("level", "levels"),
    [
        ("debug", "debug|info|warning|error|critical"),
        ("warn", "warning|error|critical"),
        ("WARNING", "warning|error|critical"),
        ("fatal", "critical"),
    ],
)
def test_a_level_selects_it_and_the_levels_above(level: str, levels: str):
    assert logql(LogQuery(level=level)) == f'{{service=~".+", level=~"{levels}"}}'


def test_an_unknown_level_is_refused_before_asking_loki():
    seen: list[httpx.Request] = []
    with pytest.raises(AirscopeError, match="unknown log level 'loud'"):
        _loki(_streams(), seen).lines(LogQuery(level="loud"))
    assert seen == []


def test_service_names_are_literal_in_the_regex():
    assert logql(LogQuery(services=("a+b", "c(d)"))) == '{service=~"a\\\\+b|c\\\\(d\\\\)"}'


def test_json_lines_are_what_the_service_wrote_and_plain_lines_are_wrapped():
    base = 1_796_637_601_000_000_000
    answer = _streams(
        (
            {"service": "api-gateway", "level": "error", "environment": "production", "trace_id": TRACE},
            [(base + 500_000_000, orjson.dumps(JSON_LINE).decode())],
        ),
        (
            {"service": "postgres", "environment": "production"},
            [
                (base + 900_000_000, "2026-12-07 10:00:01.900 UTC [7] LOG:  checkpoint complete\n"),
                (base, "{not json, though it looks like it"),
            ],
        ),
    )
    lines = _loki(answer).lines(LogQuery(since=SINCE, until=UNTIL))

    assert lines == [
        {
            "timestamp": "2026-12-07T10:00:01.000Z",
            "program": "postgres",
            "text": "{not json, though it looks like it",
        },
        JSON_LINE,
        {
            "timestamp": "2026-12-07T10:00:01.900Z",
            "program": "postgres",
            "text": "2026-12-07 10:00:01.900 UTC [7] LOG:  checkpoint complete",
        },
    ]


def test_a_json_line_that_names_no_service_says_which_stream_it_came_from():
    line = {"level": "warn", "ts": "2026-12-07T10:00:02Z", "msg": "slow compaction"}
    answer = _streams(
        ({"service": "tempo", "level": "warning"}, [(1_796_637_602_000_000_000, orjson.dumps(line).decode())])
    )
    assert _loki(answer).lines(LogQuery()) == [line | {"program": "tempo"}]


def test_the_last_lines_across_streams_oldest_first():
    base = 1_796_637_601_000_000_000
    # Loki's limit applies to the whole answer, but an answer may hold more (a split query's parts).
    answer = _streams(
        ({"service": "a"}, [(base + 5, "a5"), (base + 3, "a3"), (base + 1, "a1")]),
        ({"service": "b"}, [(base + 6, "b6"), (base + 4, "b4"), (base + 2, "b2")]),
    )
    lines = _loki(answer).lines(LogQuery(limit=4))
    assert [line["text"] for line in lines] == ["a3", "b4", "a5", "b6"]


def test_where_names_loki_and_its_url():
    assert LokiLogs(URL + "/").where == f"Loki at {URL}"


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (
            httpx.Response(400, text="parse error at line 1, col 12: syntax error: unexpected IDENTIFIER\n"),
            "HTTP 400 from /loki/api/v1/query_range: parse error at line 1, col 12: syntax error",
        ),
        (httpx.Response(502, text=""), "HTTP 502 from /loki/api/v1/query_range: Bad Gateway"),
        (httpx.Response(200, text="<html>proxy login</html>"), "not JSON: '<html>proxy login</html>'"),
        ({"status": "error", "error": "boom"}, "no successful query result"),
        (
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            "answered a 'matrix', not log streams",
        ),
        (
            {"status": "success", "data": {"resultType": "streams", "result": [{"values": [["x", "line"]]}]}},
            "streams not in Loki's shape",
        ),
    ],
)
def test_every_failure_names_loki_its_url_and_the_cause(answer, cause: str):
    with pytest.raises(AirscopeError) as raised:
        _loki(answer).lines(LogQuery())
    assert str(raised.value).startswith(f"Loki at {URL}: ")
    assert cause in str(raised.value)


def test_no_answer_names_loki_and_the_url():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    source = LokiLogs(URL, transport=httpx.MockTransport(refuse))
    with pytest.raises(
        AirscopeError,
        match=r"^Loki at http://loki\.example:3100: no answer .*ConnectError: connection refused",
    ):
        source.lines(LogQuery(since=datetime.now(UTC) - timedelta(minutes=1)))
