"""`airscope bench`'s bookkeeping without a platform: file growth across rotation, span counting, the
client's view per route and service, the knee, the thresholds, the capacity model and the documents."""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from airscope import catalog
from airscope.bench import baselines, capacity, charts, chat_tokens, counters, thresholds
from airscope.bench import platform as bench
from airscope.bench.result import JSON_PATH, Latency, Result, Step
from airscope.local.load import Tally

ROOT = Path(__file__).resolve().parents[2]


def _stat(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_size


def test_grown_bytes_follows_a_log_across_supervisords_rotation(tmp_path: Path) -> None:
    log = tmp_path / "api-gateway.log"
    log.write_bytes(b"x" * 100)
    before = _stat(log)
    with log.open("ab") as stream:
        stream.write(b"y" * 50)
    assert counters.grown_bytes(log, before, _stat(log)) == 50
    # Rotated: the old file (now 150 + 20 bytes) becomes .1, a new one holds 30 bytes.
    with log.open("ab") as stream:
        stream.write(b"z" * 20)
    os.rename(log, tmp_path / "api-gateway.log.1")
    log.write_bytes(b"w" * 30)
    assert counters.grown_bytes(log, before, _stat(log)) == 70 + 30
    assert counters.grown_bytes(log, None, _stat(log)) == 30
    assert counters.grown_bytes(tmp_path / "gone.log", before, None) == 0


def _span(name: str) -> dict:
    return {
        "traceId": "0" * 31 + "1",
        "spanId": "0" * 15 + "2",
        "name": name,
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
    }


def _export(spans: int) -> bytes:
    """One ExportTraceServiceRequest line, as the kit's file exporter writes them: ``spans`` + 1 spans."""
    scopes = [{"spans": [_span(f"s{i}") for i in range(spans)]}, {"spans": [_span("x")]}]
    request = {"resourceSpans": [{"scopeSpans": scopes}]}
    return json.dumps(request).encode() + b"\n"


def test_span_files_count_only_whole_new_lines(tmp_path: Path) -> None:
    (tmp_path / "api-gateway.jsonl").write_bytes(_export(2))
    files = counters.SpanFiles(tmp_path)  # what is there already is not counted
    with (tmp_path / "api-gateway.jsonl").open("ab") as stream:
        stream.write(_export(3) + _export(1)[:10])  # the second line is still being written
    (tmp_path / "mcp-server@2.jsonl").write_bytes(_export(4))
    found = files.new_spans()
    assert found["api-gateway"][0] == 4 and found["mcp-server"][0] == 5
    assert found["api-gateway"][1] == len(_export(3))
    with (tmp_path / "api-gateway.jsonl").open("ab") as stream:
        stream.write(_export(1)[10:])
    assert files.new_spans()["api-gateway"][0] == 2


def test_client_view_groups_routes_by_the_service_the_gateway_sends_them_to() -> None:
    tally = Tally()
    for ms in range(1, 101):
        tally.record("POST", "/api/chat", 200, ms / 1000, ok=True)
    tally.record("POST", "/api/chat", 502, 0.5, ok=False)
    tally.record("GET", "/api/airtable/{path:path}", 200, 0.01, ok=True)
    tally.record("GET", "/api/health", None, 5.0, ok=False, error="ReadTimeout")
    overall, routes, services = bench.client_view(tally, window=10.0)
    chat = routes["POST /api/chat"]
    assert (chat.count, chat.errors, chat.rps) == (101, 1, 10.1)
    assert (chat.p50_ms, chat.p95_ms, chat.p99_ms) == (51.0, 96.0, 100.0)
    assert set(services) == {"llm-orchestrator", "airtable-gateway", "api-gateway"}
    assert services["llm-orchestrator"].count == 101 and services["api-gateway"].errors == 1
    assert (overall.count, overall.errors) == (103, 2)


def _step(rate: float, p95: float, *, errors: int = 0, skipped: int = 0, sent: int = 100) -> Step:
    latency = Latency(count=sent, errors=errors, rps=rate, p50_ms=p95 / 2, p95_ms=p95, p99_ms=p95)
    return Step(
        mix="mixed",
        rate=rate,
        seconds=30,
        actions=sent,
        skipped=skipped,
        sent=sent,
        answered=sent,
        errors=errors,
        overall=latency,
        routes={},
        services={},
        processes={},
        load_generator_cpu_cores=0.1,
        machine_cpu_cores=1.0,
        telemetry={},
        head_series=1000,
        samples_per_second=200,
        airtable_calls_per_second=1,
        airtable_wait_p95_ms=None,
    )


def test_the_knee_is_errors_skipped_actions_or_a_p95_three_times_the_first() -> None:
    first = _step(5, 100)
    assert first.past_knee(first) is None
    assert _step(10, 299).past_knee(first) is None
    assert "more than 3x" in _step(10, 301).past_knee(first)
    assert "errors" in _step(10, 100, errors=2).past_knee(first)
    assert _step(10, 100, errors=1).past_knee(first) is None  # 1 %: at the limit, not past it
    assert "skipped" in _step(10, 100, skipped=1).past_knee(first)


# --- the documents, from a result shaped like the bench's ------------------------------------------------


def _telemetry(rps: float, p95: float | None, series: int = 100) -> dict:
    return {
        "log_bytes": 3000,
        "spans": 30,
        "span_bytes": 20_000,
        "series": series,
        "server_rps": rps,
        "server_p95_ms": p95,
    }


def _result_step(mix: str, rate: float, p95: float, chat_p95: float, seconds: float = 120) -> dict:
    services = {s: _telemetry(1.0, 50.0) for s in catalog.load().services}
    services["saga-orchestrator"] = _telemetry(0.1, 900.0)  # 12 requests: too few for a threshold
    services["airtable-gateway"] = _telemetry(2.0, 260.0)
    services["platform-services"] = _telemetry(1.0, 150.0)
    overall = {
        "count": int(rate * seconds),
        "errors": 0,
        "rps": rate * 1.1,
        "p50_ms": p95 / 3,
        "p95_ms": p95,
        "p99_ms": p95 * 2,
    }
    chat = overall | {"rps": rate if mix == "chat" else rate * 0.3, "p95_ms": chat_p95}
    processes = {s: {"cpu_cores": 0.3, "memory_mib": 80.0} for s in services}
    return _step(rate, p95).as_json() | {
        "mix": mix,
        "seconds": seconds,
        "overall": overall,
        "routes": {"POST /api/chat": chat},
        "services": {"llm-orchestrator": chat},
        "telemetry": services,
        "processes": processes | {"postgres": {"cpu_cores": 0.05, "memory_mib": 100.0}},
        "head_series": 3000,
    }


def _result() -> Result:
    return Result.from_json(_result_json())


def _result_json() -> dict:
    return {
        "command": ".venv/bin/airscope bench",
        "started_at": "2026-11-29 03:00 UTC",
        "machine": {
            "cpu": "test",
            "cores": 2,
            "memory_gib": 24,
            "os": "Linux",
            "python": "3.11",
            "commit": "abc",
        },
        "settings": {
            "rates": {"mixed": [5, 10], "chat": [30, 50]},
            "step_seconds": 30,
            "normal_seconds": 120,
            "normal": ["mixed", 5],
            "warmup": "10 s at 5 actions/s",
            "seed": 8,
            "max_in_flight": 400,
            "weights": {"chat": 30, "records": 70},
        },
        "stopped": {"mixed": "past the knee at 10/s: p95", "chat": "every rate asked for ran below the knee"},
        "compression": {"logs": 8.0, "spans": 10.0},
        "steps": [
            _result_step("mixed", 5, 200, 150),
            _result_step("mixed", 10, 900, 400, seconds=30),
            _result_step("chat", 30, 120, 120, seconds=30),
            _result_step("chat", 50, 250, 280, seconds=30),
        ],
    }


def test_thresholds_are_the_bucket_at_or_above_four_times_the_normal_p95() -> None:
    assert thresholds.bucket_at_least(0.2) == 0.25 and thresholds.bucket_at_least(0.25) == 0.25
    assert thresholds.bucket_at_least(99) == 30.0
    found = thresholds.measured(_result())
    assert found["api-gateway"] == 0.25  # 4 x 50 ms = 0.2 s, raised to the 0.25 s floor
    assert found["airtable-gateway"] == 2.5  # 4 x 260 ms = 1.04 s
    assert found["platform-services"] == 0.75  # 4 x 150 ms = 0.6 s
    assert found["saga-orchestrator"] is None  # 0.1/s for 120 s: 12 requests


def test_a_service_waiting_on_an_outside_saas_keeps_at_least_its_slo_threshold() -> None:
    services = catalog.load().services
    waiting = thresholds.waits_on_saas(services)
    # airtable-gateway reaches Airtable; mcp-server calls it; api-gateway calls llm-orchestrator.
    assert {"airtable-gateway", "mcp-server", "llm-orchestrator", "api-gateway"} <= waiting
    assert "platform-services" not in waiting  # it calls nothing and reaches nothing outside
    derived = thresholds.derive(_result())
    assert derived["api-gateway"] == services["api-gateway"].slo.latency_seconds  # 10 s, not 0.25 s
    assert derived["airtable-gateway"] == 2.5  # above its 1 s SLO threshold: the measurement raises it
    assert derived["platform-services"] == 0.75  # below its 1 s: only measured behaviour counts
    assert derived["saga-orchestrator"] is None


def test_the_catalog_holds_the_thresholds_of_the_kept_baselines() -> None:
    kept = Result.read(ROOT / JSON_PATH)
    services = catalog.load().services
    in_catalog = {name: services[name].high_latency_seconds for name in services}
    assert in_catalog == thresholds.derive(kept), (
        "run `airscope bench` again, or copy the thresholds of docs/performance-baselines.md into "
        "src/airscope/catalog/catalog.yaml (high_latency_seconds)"
    )


def test_capacity_scales_volumes_with_requests_and_series_with_instances() -> None:
    one, ten, hundred = capacity.model(_result())
    assert ten.log_bytes_per_day == pytest.approx(10 * one.log_bytes_per_day)
    assert hundred.spans_per_day == pytest.approx(100 * one.spans_per_day)
    # 0.3 cores per service at 1x: 1 instance; 3 cores at 10x: 6 instances at 0.5 core each.
    assert set(one.instances.values()) == {1} and set(ten.instances.values()) == {6}
    other = 3000 - 100 * len(one.instances)
    assert ten.series == 100 * 6 * len(one.instances) + other
    assert one.samples_per_second == pytest.approx(one.series / 15)
    assert one.log_bytes_per_day_compressed == pytest.approx(one.log_bytes_per_day / 8)


def test_the_chat_goal_is_judged_on_the_chat_route_below_the_knee() -> None:
    result = _result()
    assert "met** at 50/s" in baselines.chat_goal(result)
    result.steps[-1].routes["POST /api/chat"].p95_ms = 320
    assert "not met** on this machine: the highest rate that kept p95 under 300 ms was 30/s" in (
        baselines.chat_goal(result)
    )


def test_render_all_writes_the_documents_and_charts(tmp_path: Path) -> None:
    written = baselines.render_all(_result(), tmp_path)
    assert {path.relative_to(tmp_path).as_posix() for path in written} == {
        baselines.MARKDOWN_PATH,
        charts.LATENCY_CHART,
        charts.SERVICES_CHART,
        capacity.MARKDOWN_PATH,
    }
    for chart in (charts.LATENCY_CHART, charts.SERVICES_CHART):
        assert (tmp_path / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    document = (tmp_path / baselines.MARKDOWN_PATH).read_text()
    for heading in ("## Machine", "## Steps", "## HighLatency thresholds", "## Where a chat spends its CPU"):
        assert heading in document
    assert ".venv/bin/airscope bench" in document
    assert "| 10x |" in (tmp_path / capacity.MARKDOWN_PATH).read_text().replace("| 10x | 100x |", "| 10x |")


def test_overhead_rows_are_read_from_the_kept_overhead_document() -> None:
    rows = baselines.overhead_rows(ROOT)
    assert rows and rows[0].startswith("| variant |") and any("bare FastAPI" in row for row in rows)
    assert Counter(row.count("|") for row in rows).most_common(1)[0][1] == len(rows)


def test_the_kept_documents_are_what_the_kept_figures_render(tmp_path: Path) -> None:
    # Like `airscope gen --check` for measured documents: a change to the report's code must come
    # with the documents written again (`airscope bench --from-json docs/performance/baselines.json`).
    (tmp_path / baselines.OVERHEAD_DOC).parent.mkdir(parents=True)
    (tmp_path / baselines.OVERHEAD_DOC).write_text((ROOT / baselines.OVERHEAD_DOC).read_text())
    (tmp_path / chat_tokens.JSON_PATH).write_text((ROOT / chat_tokens.JSON_PATH).read_text())
    baselines.render_all(Result.read(ROOT / JSON_PATH), tmp_path)
    for document in (baselines.MARKDOWN_PATH, capacity.MARKDOWN_PATH):
        assert (tmp_path / document).read_text() == (ROOT / document).read_text(), (
            f"{document} is stale: run `airscope bench --from-json {JSON_PATH}`"
        )


def test_the_kept_figures_read_and_write_back_byte_for_byte() -> None:
    # The dataclasses are the JSON file's format: reading and writing it changes nothing.
    text = (ROOT / JSON_PATH).read_text()
    assert json.dumps(Result.from_json(json.loads(text)).as_json(), indent=1) + "\n" == text


# --- issue 21's goals and the row at 2x the knee ----------------------------------------------------------


def _overload(**changes) -> dict:
    return {
        "mix": "chat",
        "knee_rate": 50,
        "rate": 100,
        "seconds": 20,
        "normal_rate": 30,
        "patience_seconds": 10.0,
        "offered": 2000,
        "admitted": 1100,
        "shed": 900,
        "failed": 0,
        "gave_up": 0,
        "refusal_p95_ms": 12.0,
        "admitted_p95_ms": 640.0,
        "normal_p95_ms": 110.0,
        "after_failed": 0,
        "recovery_seconds": 4.0,
        "shed_by_service": {"api-gateway": 880, "llm-orchestrator": 20},
    } | changes


def _goals_result(**overload) -> Result:
    data = _result_json()
    for step in data["steps"]:
        step |= {"airtable_calls_peak_per_second": 4.6, "airtable_429s": 0, "user_429s": 0}
        step["routes"]["GET /api/health"] = step["overall"] | {"p95_ms": 12.0}
    data["overload"] = _overload(**overload)
    return Result.from_json(data)


def test_the_goals_are_met_or_not_with_their_figures() -> None:
    verdicts = {goal.name: (goal.met, goal.figure) for goal in baselines.goals(_goals_result())}
    assert verdicts["Chat: 50 chats/s with p95 under 300 ms"] == (
        True,
        "at 50/s: 50.0 chats/s answered, p95 280 ms.",
    )
    # 0.3 cores in each of the 8 services and 0.05 in postgres over 30 s, for 1,500 chats: 49 ms a chat.
    cpu = verdicts["Chat: CPU per chat at most 25 ms across the platform's processes"]
    assert cpu == (False, "49.0 ms at 50 chats/s")
    assert verdicts["Mixed: the knee at at least 20 actions/s"] == (
        False,
        "highest step below the knee 5 actions/s",
    )
    assert verdicts["Mixed: calls to Airtable never above 5/s per base"][0] is True
    assert verdicts["Mixed: no 429 reaching a user (below the knee)"] == (True, "0 answered 429")
    assert verdicts["`GET /api/health` p95 under 20 ms at the normal load"] == (
        True,
        "p95 12.0 ms (600 requests)",
    )
    assert verdicts["At 2x the knee: admitted p95 under 1000 ms"][0] is True
    assert verdicts["At 2x the knee: the excess refused within 50 ms (p95)"] == (True, "12.0 ms, 45% shed")
    assert verdicts["At 2x the knee: back to the normal p95 within 10 s"] == (True, "4 s")

    slow = {g.name: g.met for g in baselines.goals(_goals_result(recovery_seconds=None, refusal_p95_ms=80.0))}
    assert slow["At 2x the knee: back to the normal p95 within 10 s"] is False
    assert slow["At 2x the knee: the excess refused within 50 ms (p95)"] is False
    # Nothing shed: right only if there was no excess to refuse (all admitted, in time).
    refused = "At 2x the knee: the excess refused within 50 ms (p95)"
    took_all = _goals_result(shed=0, refusal_p95_ms=None, admitted=2000)
    assert {g.name: g.met for g in baselines.goals(took_all)}[refused] is True
    melted = _goals_result(shed=0, refusal_p95_ms=None, failed=300, gave_up=300)
    assert {g.name: g.met for g in baselines.goals(melted)}[refused] is False


def test_a_run_from_before_the_goals_renders_without_them(tmp_path: Path) -> None:
    old = _result()
    assert not baselines.goals_measured(old)
    document = baselines.markdown(old, tmp_path)
    assert "## Goals" not in document and "## At 2x the knee" not in document
    assert "not measured" in baselines.goals_text(old)


def test_the_goals_and_the_overload_row_are_in_the_document_and_the_terminal(tmp_path: Path) -> None:
    result = _goals_result()
    document = baselines.markdown(result, tmp_path)
    assert "## Goals" in document and "| Chat: 50 chats/s with p95 under 300 ms |" in document
    assert (
        "| 100 (2 x 50) | 20 s | 2000 | 1100 | 900 (45%) | 0 | 0 | 12.0 | 640.0 | 110.0 | 4 s | 0 |"
        in document
    )
    assert (
        "(`http_server_requests_shed_total`, the whole row): api-gateway 880, llm-orchestrator 20."
        in document
    )
    assert "where-the-time-goes.md#the-chat-path" in baselines.chat_cpu_section(result)
    text = baselines.goals_text(result)
    assert text.count("  met ") == 7 and text.count("not met") == 2
    assert "Kit:" not in document  # no overhead.md under tmp_path
    assert max(len(line) for line in text.splitlines()) <= 80
    # The new fields go to the JSON and come back.
    assert Result.from_json(json.loads(json.dumps(result.as_json()))) == result


def test_the_knee_rate_is_the_highest_rate_below_the_knee() -> None:
    steps = [_step(5, 100), _step(10, 200), _step(20, 400)]
    steps = [dataclasses.replace(s, mix="chat") for s in steps]
    assert bench.knee_rate(steps, "chat") == 10
    assert bench.knee_rate(steps[:2], "chat") == 10
    assert bench.knee_rate(steps, "mixed") is None


def test_the_kits_goals_come_from_the_overhead_documents_own_table(tmp_path: Path) -> None:
    (tmp_path / baselines.OVERHEAD_DOC).parent.mkdir(parents=True)
    (tmp_path / baselines.OVERHEAD_DOC).write_text((ROOT / baselines.OVERHEAD_DOC).read_text())
    kit = baselines.kit_goals(tmp_path)
    assert kit and all(goal.name.startswith("Kit: ") and goal.met is not None for goal in kit)
    assert any(goal.name == "Kit: metrics only: at least 0.90 in every round" for goal in kit)
    result = _goals_result()
    assert "| Kit: metrics only: at least 0.90 in every round |" in baselines.markdown(result, tmp_path)
    assert "Kit: metrics only: at least 0.90 in every round" in baselines.goals_text(result, tmp_path)
    assert baselines.kit_goals(tmp_path / "elsewhere") == []
