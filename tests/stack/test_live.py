"""`airscope check --live`'s parts that need no platform: which queries the dashboards make, and how
counts and latencies are compared. The whole check runs against the local platform in tests/e2e."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from airscope import catalog
from airscope.local.load import Domain
from airscope.stack.checks import live


def test_every_prometheus_panel_query_is_expanded_for_each_service_and_grafanas_own_variables(deployed):
    queries = live.panel_queries(deployed)
    services = list(catalog.load().services)
    per_service = [q for q in queries if q.dashboard == "airscope / Service" and q.panel == "Up"]
    assert sorted(dict(q.variables)["service"] for q in per_service) == sorted(services)
    assert all("$" not in q.expr for q in queries), [q.expr for q in queries if "$" in q.expr][:3]
    assert not [q for q in queries if q.dashboard == "airscope / Logs"], "Loki panels are not Prometheus'"


@pytest.mark.parametrize(("seconds", "index"), [(0.004, 0), (0.005, 0), (0.0051, 1), (1.0, 9), (31.0, 15)])
def test_bucket_index(seconds, index):
    assert live.bucket_index(seconds) == index


class FakePrometheus:
    """Answers the two instant queries of count_mismatches from fixed counters (unit test only)."""

    def __init__(self, before: dict, after: dict) -> None:
        self.answers = {1.0: before, 2.0: after}

    def instant(self, expr: str, at: float) -> list[dict]:
        return [
            {"metric": {"method": m, "route": r, "status": str(s)}, "value": [at, str(v)]}
            for (m, r, s), v in self.answers[at].items()
        ]


def test_counts_must_match_exactly_per_route_and_status_and_other_routes_are_ignored():
    before = {("POST", "/api/chat", 200): 10, ("GET", "/health/live", 200): 500}
    after = {("POST", "/api/chat", 200): 40, ("POST", "/api/chat", 502): 1, ("GET", "/health/live", 200): 900}
    prometheus = FakePrometheus(before, after)
    assert (
        live.count_mismatches(
            prometheus, {("POST", "/api/chat", 200): 30, ("POST", "/api/chat", 502): 1}, 1.0, 2.0, "g"
        )
        == []
    )
    problems = live.count_mismatches(prometheus, Counter({("POST", "/api/chat", 200): 31}), 1.0, 2.0, "g")
    assert problems == [
        "POST /api/chat 200: the client sent 31, Prometheus counted 30",
        "POST /api/chat 502: the client sent 0, Prometheus counted 1",
    ]


class FakeSeries:
    """Answers domain_mismatches' ``sum [by (label)] (name{filters})`` queries from raw series, each
    with its value at 1.0 (the window's start) and at 2.0 (its end) (unit test only)."""

    def __init__(self, series: list[tuple[str, dict[str, str], float, float]]) -> None:
        self.series = series

    def instant(self, expr: str, at: float) -> list[dict]:
        by, name, selector = re.fullmatch(r"sum(?: by \((\w+)\))? \((\w+)\{(.*)\}\)", expr).groups()
        matchers = re.findall(r'(\w+)(=~|!=|=)"([^"]*)"', selector)
        totals: Counter = Counter()
        for series_name, labels, before, after in self.series:
            if series_name == name and all(self._matches(labels.get(k, ""), op, v) for k, op, v in matchers):
                totals[labels[by] if by else ""] += before if at == 1.0 else after
        return [{"metric": {by: key} if by else {}, "value": [at, str(v)]} for key, v in totals.items()]

    @staticmethod
    def _matches(value: str, op: str, wanted: str) -> bool:
        return {"=": value == wanted, "!=": value != wanted, "=~": re.fullmatch(wanted, value) is not None}[
            op
        ]


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
    assert live.domain_mismatches(FakeSeries(services()), proven(), 1.0, 2.0) == []


def test_a_saga_or_a_file_must_end_inside_the_window():
    counted = services(
        saga_runs_total__onboarding_failed=-1, automation_files_processed_total__csv_partial=-1
    )
    assert live.domain_mismatches(FakeSeries(counted), proven(), 1.0, 2.0) == [
        "Automation / Files/s by type and outcome: "
        'automation_files_processed_total{job="services", type="csv"}: '
        "the load's answers prove 2, Prometheus counted 1",
        'Sagas / Sagas ended/s by saga and outcome: saga_runs_total{job="services", saga="onboarding"}: '
        "the load's answers prove 2, Prometheus counted 1",
    ]


def test_a_counter_off_by_one_is_reported_with_its_label():
    counted = services(llm_tokens_total__m_input=1)
    assert live.domain_mismatches(FakeSeries(counted), proven(), 1.0, 2.0) == [
        'LLM / Tokens/s by model and type: llm_tokens_total{job="services"} type=input: '
        "the load's answers prove 300, Prometheus counted 301"
    ]
    counted = services(auth_attempts_total__password_invalid_credentials=1)
    assert live.domain_mismatches(FakeSeries(counted), proven(), 1.0, 2.0) == [
        "Users / Auth attempts/s by method and outcome: "
        'auth_attempts_total{job="services", method="password"} outcome=invalid_credentials: '
        "the load's answers prove 1, Prometheus counted 2"
    ]


def test_every_chat_answered_200_is_counted_once_whatever_its_answer_reported():
    counted = services(llm_chats_total__answered=1)
    assert live.domain_mismatches(FakeSeries(counted), proven(), 1.0, 2.0) == [
        'LLM / Chats/s by outcome: llm_chats_total{job="services", outcome!="failed"}: '
        "the load's answers prove 1, Prometheus counted 2"
    ]
    assert live.domain_mismatches(FakeSeries(services(llm_chats_total__failed=5)), proven(), 1.0, 2.0) == []


def test_a_request_without_an_answer_widens_only_the_bounds_it_could_move():
    domain = proven()
    domain.unproven.update({"chat": 1, "login": 1})
    counted = services(
        llm_tokens_total__m_input=500,  # the unanswered chat's tokens: any number
        mcp_tool_calls_total__count_records_ok=2,  # and its tool calls
        auth_attempts_total__password_success=1,  # the unanswered login may have succeeded
        auth_tokens_issued_total__access=1,
        auth_tokens_issued_total__refresh=1,
        activity_events_total__login=1,
    )
    assert live.domain_mismatches(FakeSeries(counted), domain, 1.0, 2.0) == []
    counted = services(auth_attempts_total__password_success=2)
    assert live.domain_mismatches(FakeSeries(counted), domain, 1.0, 2.0) == [
        "Users / Auth attempts/s by method and outcome: "
        'auth_attempts_total{job="services", method="password"} outcome=success: '
        "the load's answers prove 2 to 3, Prometheus counted 4"
    ]
    # Fewer than the answers prove is wrong however many went unanswered.
    counted = services(llm_tokens_total__m_output=-1)
    assert live.domain_mismatches(FakeSeries(counted), domain, 1.0, 2.0) == [
        'LLM / Tokens/s by model and type: llm_tokens_total{job="services"} type=output: '
        "the load's answers prove at least 20, Prometheus counted 19"
    ]


class FakeScrapes:
    """Each service's ``up`` and the time of its last scrape, one state per look, the window's
    earlier requests having ended at 100 (unit test only)."""

    LOOKS = (
        {"gateway": ("1", 101.0)},  # llm's instance is not found yet
        {"gateway": ("1", 101.0), "llm": ("1", 97.0)},  # its last scrape is older than the requests
        {"gateway": ("1", 101.0), "llm": ("0", 101.0)},  # it failed
        {"gateway": ("1", 101.0), "llm": ("1", 102.0)},
    )

    def __init__(self) -> None:
        self.looks = 0

    def instant(self, expr: str, at: float) -> list[dict]:
        if expr.startswith("timestamp("):
            state = self.LOOKS[self.looks - 1]
            return [{"metric": {"instance": s}, "value": [at, str(t)]} for s, (_, t) in state.items()]
        self.looks += 1
        state = self.LOOKS[self.looks - 1]
        return [{"metric": {"instance": s, "service": s}, "value": [at, up]} for s, (up, _) in state.items()]


def test_the_window_starts_once_every_service_was_scraped_after_the_earlier_requests(monkeypatch):
    monkeypatch.setattr(live.time, "sleep", lambda seconds: None)
    prometheus = FakeScrapes()
    live.wait_for_scrape(prometheus, 100.0, ["gateway", "llm"])
    assert prometheus.looks == 4
