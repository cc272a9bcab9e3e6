"""GET /api/logs and /api/logs/tail: the filters of `airscope logs` over HTTP, and a live tail
that neither misses nor repeats a line (rotation and shared milliseconds included), on real files."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from airscope.console.app import create_app
from airscope.console.settings import ConsoleConfig
from airscope.local.logs import format_timestamp

TRACE = "0af7651916cd43dd8448eb211c80319c"
OTHER = "4bf92f3577b34da6a3ce929d0e0e4736"


def line(
    event: str, *, ago: float = 0, level: str = "info", service: str = "api-gateway", **fields: object
) -> bytes:
    """A service's JSON line in the kit's shape, written ``ago`` seconds before now."""
    stamp = format_timestamp(datetime.now(UTC) - timedelta(seconds=ago))
    body = {"event": event, **fields, "level": level, "logger": "app", "timestamp": stamp, "service": service}
    return orjson.dumps(body) + b"\n"


def append(path: Path, *lines: bytes) -> None:
    with path.open("ab") as file:
        file.write(b"".join(lines))


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "log"
    directory.mkdir()
    return directory


@pytest.fixture
def client(tmp_path: Path, log_dir: Path) -> TestClient:
    config = ConsoleConfig(
        home=tmp_path,
        prometheus_url="http://127.0.0.1:9",
        alertmanager_url="http://127.0.0.1:9",
        notifications_file=tmp_path / "notifications.jsonl",
        log_dir=log_dir,
        trace_dir=tmp_path / "traces",
        dashboards_dir=tmp_path / "dashboards",
        runbooks_dir=tmp_path / "runbooks",
    )
    return TestClient(create_app(config))


def events(answer: dict) -> list[str]:
    return [item["message"] for item in answer["lines"]]


def test_search_filters_like_airscope_logs(client: TestClient, log_dir: Path) -> None:
    append(
        log_dir / "api-gateway.log",
        line("old", ago=7200),
        line("chat", ago=30, trace_id=TRACE),
        line("slow upstream", ago=20, level="warning"),
    )
    append(log_dir / "mcp-server.log", line("tool", ago=25, service="mcp-server", level="error"))
    append(log_dir / "postgres.log", b"2020-01-01 00:00:00 UTC LOG:  checkpoint\n")
    answer = client.get("/api/logs").json()
    assert events(answer)[-3:] == ["chat", "tool", "slow upstream"]  # newest last
    assert answer["services"] == ["api-gateway", "mcp-server", "postgres"] and answer["warnings"] == []
    assert events(client.get("/api/logs?service=mcp-server").json()) == ["tool"]
    assert events(client.get("/api/logs?level=WARNING").json()) == ["tool", "slow upstream"]
    assert events(client.get(f"/api/logs?trace={TRACE.upper()}").json()) == ["chat"]
    assert events(client.get("/api/logs?since=1h&service=api-gateway").json()) == ["chat", "slow upstream"]
    assert events(client.get("/api/logs?q=upstream").json()) == ["slow upstream"]
    assert events(client.get("/api/logs?limit=1&service=api-gateway").json()) == ["slow upstream"]
    both = client.get("/api/logs?service=mcp-server&service=api-gateway&since=1h").json()
    assert events(both) == ["chat", "tool", "slow upstream"]
    item = both["lines"][0]
    assert item["traceId"] == TRACE and item["service"] == "api-gateway" and item["level"] == "info"
    assert item["fields"]["event"] == "chat" and isinstance(item["ms"], int) and item["raw"].startswith("{")
    assert client.get("/api/logs?service=nope").json()["warnings"] == [
        "no log file for nope (there are: api-gateway, mcp-server, postgres)"
    ]


def test_a_line_of_a_trace_not_kept_has_no_trace_link(client: TestClient, log_dir: Path) -> None:
    append(
        log_dir / "api-gateway.log",
        line("kept", ago=20, trace_id=TRACE, trace_sampled=True),
        line("not kept", ago=10, trace_id=OTHER, trace_sampled=False),
    )
    kept, dropped = client.get("/api/logs").json()["lines"]
    assert kept["traceId"] == TRACE
    # The id stays in the line's fields, for searching; only the link goes.
    assert dropped["traceId"] is None and dropped["fields"]["trace_id"] == OTHER


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("level=loud", "level 'loud' is not one of debug, info"),
        ("trace=xyz", "is not a trace id"),
        ("since=yesterday", "is neither an age"),
        ("limit=0", "from 1 to 5000"),
        ("limit=many", "from 1 to 5000"),
        ("limit=5001", "from 1 to 5000"),
    ],
)
def test_bad_filters_are_400_with_the_reason(client: TestClient, query: str, says: str) -> None:
    for path in ("/api/logs", "/api/logs/tail"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400 and says in response.json()["message"], response.text


def test_no_log_directory_is_503_saying_how_to_get_one(client: TestClient, log_dir: Path) -> None:
    log_dir.rmdir()
    response = client.get("/api/logs")
    assert response.status_code == 503 and "make up" in response.json()["message"]


def test_tail_gives_each_new_line_once_through_shared_milliseconds(client: TestClient, log_dir: Path) -> None:
    path = log_dir / "api-gateway.log"
    append(path, line("before", ago=5))
    first = client.get("/api/logs/tail?service=api-gateway").json()
    assert events(first) == ["before"]
    stamp = format_timestamp(datetime.now(UTC))
    same_ms = [
        orjson.dumps({"event": f"same {n}", "level": "info", "timestamp": stamp, "service": "api-gateway"})
        + b"\n"
        for n in range(3)
    ]
    append(path, same_ms[0], line("other service", service="mcp-server"))
    second = client.get(f"/api/logs/tail?service=api-gateway&after={first['next']}").json()
    assert events(second) == ["same 0"]
    append(path, *same_ms[1:], b'{"event": "half writ')  # a line still being written waits
    third = client.get(f"/api/logs/tail?service=api-gateway&after={second['next']}").json()
    assert events(third) == ["same 1", "same 2"]
    append(path, b'ten", "level": "info", "service": "api-gateway"}\n')
    fourth = client.get(f"/api/logs/tail?service=api-gateway&after={third['next']}").json()
    assert events(fourth) == ["half written"]
    idle = client.get(f"/api/logs/tail?service=api-gateway&after={fourth['next']}").json()
    assert idle["lines"] == [] and idle["next"] == fourth["next"]


def test_tail_finishes_a_rotated_file_and_reads_new_programs_from_their_start(
    client: TestClient, log_dir: Path
) -> None:
    path = log_dir / "api-gateway.log"
    append(path, line("a"))
    cursor = client.get("/api/logs/tail").json()["next"]
    cut = line("cut by rotation")
    append(path, line("b"), cut[:15])
    os.rename(path, log_dir / "api-gateway.log.1")  # supervisord rotates mid-line
    append(path, cut[15:], line("c"))
    append(log_dir / "mcp-server.log", line("new program", service="mcp-server"))
    answer = client.get(f"/api/logs/tail?after={cursor}").json()
    assert events(answer) == ["b", "cut by rotation", "c", "new program"]
    again = client.get(f"/api/logs/tail?after={answer['next']}").json()
    assert again["lines"] == []


def test_tail_filters_and_keeps_the_newest_when_more_came_than_the_limit(
    client: TestClient, log_dir: Path
) -> None:
    path = log_dir / "api-gateway.log"
    cursor = client.get("/api/logs/tail?level=error").json()["next"]
    append(path, *[line(f"e{n}", level="error") for n in range(5)], line("fine"))
    answer = client.get(f"/api/logs/tail?level=error&limit=2&after={cursor}").json()
    assert events(answer) == ["e3", "e4"]


def test_a_cursor_the_console_did_not_give_is_400(client: TestClient) -> None:
    response = client.get("/api/logs/tail?after=not-a-cursor!")
    assert response.status_code == 400 and "not a cursor this console gave" in response.json()["message"]
