"""`airscope check --live`'s parts that need no platform: which queries the dashboards make, and how
counts and latencies are compared. Prometheus is faked at its HTTP API (``airscope.promapi`` reads
the answers as it reads a real server's); the whole check runs against the local platform in
tests/e2e/test_dashboards.py."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from airscope import catalog, stack
from airscope.local.live_check import check, domain, gateway, panels
from airscope.local.load import Domain
from airscope.promapi import Prometheus

Answer = Callable[[str, float], list[tuple[dict[str, str], float]]]  # (expr, time) -> (labels, value)


def prometheus(answer: Answer) -> Prometheus:
    """A Prometheus whose instant queries ``answer`` computes (a vector of labels and values)."""

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query", request.url
        at = float(request.url.params["time"])
        result = [
            {"metric": labels, "value": [at, str(value)]}
            for labels, value in answer(request.url.params["query"], at)
        ]
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    return Prometheus("http://prometheus.test", transport=httpx.MockTransport(handle))


@pytest.fixture
def dashboards(tmp_path) -> Path:
    """A checkout-like directory holding every generated stack file."""
    for relative, content in stack.generate().items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return tmp_path


def test_every_prometheus_panel_query_is_expanded_for_each_service_and_grafanas_own_variables(dashboards):
    queries = panels.panel_queries(dashboards)
    services = list(catalog.load().services)
    per_service = [q for q in queries if q.dashboard == "airscope / Service" and q.panel == "Up"]
    assert sorted(dict(q.variables)["service"] for q in per_service) == sorted(services)
    assert all("$" not in q.expr for q in queries), [q.expr for q in queries if "$" in q.expr][:3]
    assert not [q for q in queries if q.dashboard == "airscope / Logs"], "Loki panels are not Prometheus'"


def test_a_panel_is_empty_when_every_query_returns_nothing_and_a_refused_query_is_reported(dashboards):
    def handle(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        if "llm_chats_total" in query:
            return httpx.Response(400, json={"status": "error", "error": "parse error"})
        series = [] if "llm_" in query else [{"metric": {}, "values": [[1.0, "1"]]}]
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "matrix", "result": series}}
        )

    fake = Prometheus("http://prometheus.test", transport=httpx.MockTransport(handle))
    problems = panels.empty_panels(dashboards, fake, 1.0, 2.0)
    assert problems and all(problem.startswith("airscope / LLM / ") for problem in problems), problems
    assert any("Prometheus refused the query" in p and "parse error" in p for p in problems)
    assert any(p.startswith("airscope / LLM / Tokens/s by model and type: no data (") for p in problems)


def test_a_dashboard_with_nothing_to_show_locally_is_not_reported_empty_and_the_others_are(dashboards):
    def handle(request: httpx.Request) -> httpx.Response:
        empty = {"status": "success", "data": {"resultType": "matrix", "result": []}}
        return httpx.Response(200, json=empty)

    fake = Prometheus("http://prometheus.test", transport=httpx.MockTransport(handle))
    problems = panels.empty_panels(dashboards, fake, 1.0, 2.0)
    assert "airscope / Containers" in panels.EMPTY_LOCALLY
    assert not [p for p in problems if p.startswith("airscope / Containers")]
    assert [p for p in problems if p.startswith("airscope / Overview / ")], problems[:3]


@pytest.mark.parametrize(("seconds", "index"), [(0.004, 0), (0.005, 0), (0.0051, 1), (1.0, 9), (31.0, 15)])
def test_bucket_index(seconds, index):
    assert gateway.bucket_index(seconds) == index


def counters(before: dict, after: dict) -> Prometheus:
    """Answers the two instant queries of count_mismatches from fixed counters."""
    answers = {1.0: before, 2.0: after}
    return prometheus(
        lambda expr, at: [
            ({"method": m, "route": r, "status": str(s)}, v) for (m, r, s), v in answers[at].items()
        ]
    )


def test_counts_must_match_exactly_per_route_and_status_and_other_routes_are_ignored():
    before = {("POST", "/api/chat", 200): 10, ("GET", "/health/live", 200): 500}
    after = {("POST", "/api/chat", 200): 40, ("POST", "/api/chat", 502): 1, ("GET", "/health/live", 200): 900}
    fake = counters(before, after)
    sent = {("POST", "/api/chat", 200): 30, ("POST", "/api/chat", 502): 1}
    assert gateway.count_mismatches(fake, sent, 1.0, 2.0, "g") == []
    problems = gateway.count_mismatches(fake, Counter({("POST", "/api/chat", 200): 31}), 1.0, 2.0, "g")
    assert problems == [
        "POST /api/chat 200: the client sent 31, Prometheus counted 30",
        "POST /api/chat 502: the client sent 0, Prometheus counted 1",
    ]


def test_a_p95_over_a_bucket_above_or_far_below_the_clients_or_missing_is_reported_a_quiet_route_skipped():
    server = [
        ({"method": "GET", "route": "/a"}, 0.1),
        ({"method": "GET", "route": "/b"}, 2.0),
        ({"method": "GET", "route": "/c"}, "NaN"),  # no requests in the window: no value
        ({"method": "GET", "route": "/e"}, 0.025),  # buckets below, but only 67 ms: the client's wait
        ({"method": "GET", "route": "/f"}, 0.025),  # buckets below and 275 ms: the timer misses work
        ({"method": "GET", "route": "/g"}, 0.25),  # two buckets above: no client saw that
    ]
    fake = prometheus(lambda expr, at: server if expr.startswith("histogram_quantile(0.95, ") else [])
    client = {("GET", "/a"): 0.09, ("GET", "/b"): 0.1, ("GET", "/c"): 0.1, ("GET", "/d"): 5.0}
    client |= {("GET", "/e"): 0.092, ("GET", "/f"): 0.3, ("GET", "/g"): 0.06}
    counts = {key: 30 for key in client} | {("GET", "/d"): 3}
    assert gateway.p95_mismatches(fake, client, 1.0, 2.0, "g", counts=counts) == [
        "GET /b: p95 2000 ms in Prometheus, 100 ms at the client: more than one bucket apart",
        "GET /c: no histogram in Prometheus",
        "GET /f: p95 25 ms in Prometheus, 300 ms at the client: more than one bucket apart",
        "GET /g: p95 250 ms in Prometheus, 60 ms at the client: more than one bucket apart",
    ]


def series_sums(series: list[tuple[str, dict[str, str], float, float]]) -> Prometheus:
    """Answers domain_mismatches' ``sum [by (label)] (name{filters})`` queries from raw series, each
    with its value at 1.0 (the window's start) and at 2.0 (its end)."""

    def matches(value: str, op: str, wanted: str) -> bool:
        return {"=": value == wanted, "!=": value != wanted, "=~": re.fullmatch(wanted, value) is not None}[
            op
        ]

    def answer(expr: str, at: float) -> list[tuple[dict[str, str], float]]:
        by, name, selector = re.fullmatch(r"sum(?: by \((\w+)\))? \((\w+)\{(.*)\}\)", expr).groups()
        matchers = re.findall(r'(\w+)(=~|!=|=)"([^"]*)"', selector)
        totals: Counter = Counter()
        for series_name, labels, before, after in series:
            if series_name == name and all(matches(labels.get(k, ""), op, v) for k, op, v in matchers):
                totals[labels[by] if by else ""] += before if at == 1.0 else after
        return [({by: key} if by else {}, v) for key, v in totals.items()]

    return prometheus(answer)


def proven() -> Domain:
    """One chat with two tool calls (one of a name mcp-server does not list), two logins and a wrong
    password, two uploads (one seen completed), a saga seen compensated and one still running."""
    return Domain(
        chats=1,
        tokens=Counter({"input": 300, "output": 20}),
        completions=3,
        tool_calls=Counter({("list_bases", True): 1, ("drop_tables", False): 1}),
        logins=Counter({"success": 2, "invalid_credentials": 1}),
        tokens_issued=Counter({"access": 2, "refresh": 2}),
        files=Counter({"completed": 1, "pending": 1}),
        rows=Counter({"imported": 3, "pending": 2}),
        sagas=Counter({"compensated": 1, "pending": 1}),
    )


def services(**increase: float) -> list[tuple[str, dict[str, str], float, float]]:
    """What the platform counted for proven(), plus background work the checks must leave out;
    ``increase`` adds to a series named as ``metric__label_value``."""
    job = {"job": "services"}
    series = [
        ("llm_tokens_total", {"model": "m", "type": "input"}, 1000, 1300),
        ("llm_tokens_total", {"model": "m", "type": "output"}, 90, 110),
        ("llm_requests_total", {"model": "m", "outcome": "ok"}, 10, 13),
        ("llm_requests_total", {"model": "m", "outcome": "timeout"}, 0, 1),  # a retried attempt
        # The proven chat's answer reported a failure; one that ended in a 5xx is not the load's.
        ("llm_chats_total", {"outcome": "answered"}, 9, 9),
        ("llm_chats_total", {"outcome": "tool_failure"}, 0, 1),
        ("llm_chats_total", {"outcome": "failed"}, 2, 3),
        ("llm_chat_input_tokens_sum", {"model": "m"}, 2000, 2300),
        ("llm_tool_calls_total", {"tool": "list_bases", "outcome": "ok"}, 4, 5),
        ("llm_tool_calls_total", {"tool": "other", "outcome": "error"}, 0, 1),
        ("mcp_tool_calls_total", {"tool": "list_bases", "outcome": "ok"}, 4, 5),
        ("mcp_tool_calls_total", {"tool": "count_records", "outcome": "ok"}, 2, 2),
        ("auth_attempts_total", {"method": "password", "outcome": "success"}, 5, 7),
        ("auth_attempts_total", {"method": "password", "outcome": "invalid_credentials"}, 0, 1),
        ("auth_attempts_total", {"method": "token", "outcome": "success"}, 40, 90),  # not the load's
        ("auth_tokens_issued_total", {"type": "access"}, 5, 7),
        ("auth_tokens_issued_total", {"type": "refresh"}, 5, 7),
        ("activity_events_total", {"type": "login"}, 5, 7),
        ("activity_events_total", {"type": "chat"}, 1, 2),
        ("activity_events_total", {"type": "upload"}, 0, 2),
        ("activity_events_total", {"type": "saga"}, 0, 2),
        # The pending file ended partial after its poll.
        ("automation_files_processed_total", {"type": "csv", "outcome": "completed"}, 0, 1),
        ("automation_files_processed_total", {"type": "csv", "outcome": "partial"}, 0, 1),
        ("automation_records_imported_total", {}, 10, 14),
        ("automation_row_errors_total", {"type": "csv"}, 0, 1),
        ("automation_workflow_runs_total", {"workflow": "csv-import", "status": "succeeded"}, 0, 2),
        ("automation_workflow_runs_total", {"workflow": "record-count", "status": "succeeded"}, 3, 9),
        ("saga_runs_total", {"saga": "onboarding", "outcome": "compensated"}, 0, 1),
        ("saga_runs_total", {"saga": "onboarding", "outcome": "failed"}, 0, 1),  # the running one
        ("saga_runs_total", {"saga": "signup", "outcome": "completed"}, 0, 4),  # another saga's
    ]
    named = {f"{name}__{'_'.join(labels.values())}": i for i, (name, labels, _, _) in enumerate(series)}
    for key, more in increase.items():
        name, labels, before, after = series[named[key]]
        series[named[key]] = (name, labels, before, after + more)
    return [(name, {**labels, **job}, before, after) for name, labels, before, after in series]


def test_domain_counters_match_what_the_answers_prove_and_background_work_is_left_out():
    assert domain.domain_mismatches(series_sums(services()), proven(), 1.0, 2.0) == []


def test_a_saga_or_a_file_must_end_inside_the_window():
    counted = services(
        saga_runs_total__onboarding_failed=-1, automation_files_processed_total__csv_partial=-1
    )
    assert domain.domain_mismatches(series_sums(counted), proven(), 1.0, 2.0) == [
        "Automation / Files/s by type and outcome: "
        'automation_files_processed_total{job="services", type="csv"}: '
        "the load's answers prove 2, Prometheus counted 1",
        'Sagas / Sagas ended/s by saga and outcome: saga_runs_total{job="services", saga="onboarding"}: '
        "the load's answers prove 2, Prometheus counted 1",
    ]


def test_a_counter_off_by_one_is_reported_with_its_label():
    counted = services(llm_tokens_total__m_input=1)
    assert domain.domain_mismatches(series_sums(counted), proven(), 1.0, 2.0) == [
        'LLM / Tokens/s by model and type: llm_tokens_total{job="services"} type=input: '
        "the load's answers prove 300, Prometheus counted 301"
    ]
    counted = services(auth_attempts_total__password_invalid_credentials=1)
    assert domain.domain_mismatches(series_sums(counted), proven(), 1.0, 2.0) == [
        "Users / Auth attempts/s by method and outcome: "
        'auth_attempts_total{job="services", method="password"} outcome=invalid_credentials: '
        "the load's answers prove 1, Prometheus counted 2"
    ]


def test_every_chat_answered_200_is_counted_once_whatever_its_answer_reported():
    counted = services(llm_chats_total__answered=1)
    assert domain.domain_mismatches(series_sums(counted), proven(), 1.0, 2.0) == [
        'LLM / Chats/s by outcome: llm_chats_total{job="services", outcome!="failed"}: '
        "the load's answers prove 1, Prometheus counted 2"
    ]
    assert (
        domain.domain_mismatches(series_sums(services(llm_chats_total__failed=5)), proven(), 1.0, 2.0) == []
    )


def test_a_request_without_an_answer_widens_only_the_bounds_it_could_move():
    proven_domain = proven()
    proven_domain.unproven.update({"chat": 1, "login": 1})
    counted = services(
        llm_tokens_total__m_input=500,  # the unanswered chat's tokens: any number
        mcp_tool_calls_total__count_records_ok=2,  # and its tool calls
        auth_attempts_total__password_success=1,  # the unanswered login may have succeeded
        auth_tokens_issued_total__access=1,
        auth_tokens_issued_total__refresh=1,
        activity_events_total__login=1,
    )
    assert domain.domain_mismatches(series_sums(counted), proven_domain, 1.0, 2.0) == []
    counted = services(auth_attempts_total__password_success=2)
    assert domain.domain_mismatches(series_sums(counted), proven_domain, 1.0, 2.0) == [
        "Users / Auth attempts/s by method and outcome: "
        'auth_attempts_total{job="services", method="password"} outcome=success: '
        "the load's answers prove 2 to 3, Prometheus counted 4"
    ]
    # Fewer than the answers prove is wrong however many went unanswered.
    counted = services(llm_tokens_total__m_output=-1)
    assert domain.domain_mismatches(series_sums(counted), proven_domain, 1.0, 2.0) == [
        'LLM / Tokens/s by model and type: llm_tokens_total{job="services"} type=output: '
        "the load's answers prove at least 20, Prometheus counted 19"
    ]


def scrapes() -> tuple[Prometheus, list[str]]:
    """Each service's ``up`` and the time of its last scrape, one state per look, the window's
    earlier requests having ended at 100."""
    looks = (
        {"gateway": ("1", 101.0)},  # llm's instance is not found yet
        {"gateway": ("1", 101.0), "llm": ("1", 97.0)},  # its last scrape is older than the requests
        {"gateway": ("1", 101.0), "llm": ("0", 101.0)},  # it failed
        {"gateway": ("1", 101.0), "llm": ("1", 102.0)},
    )
    seen = []

    def answer(expr: str, at: float) -> list[tuple[dict[str, str], float]]:
        if expr.startswith("timestamp("):
            return [({"instance": s}, t) for s, (_, t) in looks[len(seen) - 1].items()]
        seen.append(expr)
        return [({"instance": s, "service": s}, up) for s, (up, _) in looks[len(seen) - 1].items()]

    return prometheus(answer), seen


def test_the_window_starts_once_every_service_was_scraped_after_the_earlier_requests(monkeypatch):
    monkeypatch.setattr(check.time, "sleep", lambda seconds: None)
    fake, looks = scrapes()
    check.wait_for_scrape(fake, 100.0, ["gateway", "llm"])
    assert len(looks) == 4
