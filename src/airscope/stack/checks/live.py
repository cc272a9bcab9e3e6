"""The dashboards against a running Prometheus: every Prometheus query of every generated panel
returns data, and the numbers with a ground truth match it.

The ground truth is what `airscope load` sent (its own counts per method, route and status, and
its own latencies). Prometheus' counters, read just before and well after the load, must count
exactly the same requests; its p95 per route must fall in the client's bucket or the next one
(a histogram knows a latency only to its bucket, and the server's time excludes the network).
The domain counters (chats, tokens, tool calls, logins, imports, sagas) must count what the load's
answers prove the platform did (``domain_truths``).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from airscope import catalog as service_catalog
from airscope.local import load
from airscope.stack import settings
from airscope.telemetry import LATENCY_BUCKETS

DASHBOARDS_DIR = "deploy/grafana/dashboards"
PROMETHEUS_SOURCES = {settings.DATASOURCE_UIDS["prometheus"], settings.DATASOURCE_UIDS["mimir"]}
# What Grafana puts for its own variables when a dashboard is viewed at the local profile's 5 s
# scrape interval: $__rate_interval is at least four scrapes.
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "15s"}
REQUESTS = "http_server_request_duration_seconds_count"
GATEWAY = "api-gateway"  # where the load enters: its counts are the ones the client's can match
# After the last request: one scrape (5 s locally) puts every counter in Prometheus, and one run of
# the slower SLO rule group (30 s) records the burn rates the SLO panels show.
SETTLE_SECONDS = 30 + 5 + 1
SCRAPE_WAIT_SECONDS = 30  # six scrapes locally

# Panels that are rightly empty under normal load, with why. Keyed by (dashboard title, panel
# title); a value of None means for every value of the dashboard's variables, else for those listed.
MAY_BE_EMPTY: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("airscope / Overview", "Firing alerts"): None,  # nothing fires under normal load
    # Only a real browser sends web vitals (the frontend's e2e test drives one; `airscope load` doesn't).
    ("airscope / Frontend (real users)", "Web vitals p75 by name"): None,
    ("airscope / Frontend (real users)", "Cumulative layout shift p75 by page"): None,
}


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    expr: str
    variables: tuple[tuple[str, str], ...]  # the dashboard variables' values it was expanded with

    def name(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.variables)
        return f"{self.dashboard} / {self.panel}" + (f" [{where}]" if where else "")


def _panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row keeps its panels inside


def _options(dashboard: dict) -> dict[str, list[str]]:
    return {
        variable["name"]: [
            o["value"] for o in variable.get("options", []) if o.get("value") not in (None, "$__all")
        ]
        for variable in dashboard.get("templating", {}).get("list", [])
    }


def panel_queries(root: Path) -> list[PanelQuery]:
    """Every Prometheus query of every panel, once per value of the dashboard variables it uses."""
    queries = []
    for path in sorted((root / DASHBOARDS_DIR).glob("*.json")):
        dashboard = json.loads(path.read_text())
        options = _options(dashboard)
        for panel in _panels(dashboard.get("panels", [])):
            panel_source = (panel.get("datasource") or {}).get("uid")
            for target in panel.get("targets", []):
                source = (target.get("datasource") or {}).get("uid") or panel_source
                expr = target.get("expr")
                if source not in PROMETHEUS_SOURCES or not expr:
                    continue
                used = sorted(name for name in options if re.search(rf"\$\{{?{name}\b", expr))
                for values in itertools.product(*(options[name] for name in used)):
                    text = expr
                    for name, value in [*zip(used, values, strict=True), *GRAFANA_VARIABLES.items()]:
                        text = re.sub(rf"\$\{{?{name}\}}?", value, text)
                    queries.append(
                        PanelQuery(
                            dashboard["title"], panel["title"], text, tuple(zip(used, values, strict=True))
                        )
                    )
    return queries


class Prometheus:
    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)

    def _data(self, path: str, params: dict) -> list[dict]:
        answer = self.client.get(path, params=params)
        body = answer.json()
        if answer.status_code != 200 or body.get("status") != "success":
            raise ValueError(body.get("error") or answer.text)
        return body["data"]["result"]

    def instant(self, expr: str, at: float) -> list[dict]:
        return self._data("/api/v1/query", {"query": expr, "time": at})

    def has_data(self, expr: str, start: float, end: float) -> bool:
        return bool(
            self._data("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": 15})
        )


def empty_panels(root: Path, prometheus: Prometheus, start: float, end: float) -> list[str]:
    """The panels (per variable value) whose every query returned nothing over [start, end]."""
    by_panel: dict[tuple, list[PanelQuery]] = {}
    for query in panel_queries(root):
        by_panel.setdefault((query.dashboard, query.panel, query.variables), []).append(query)
    problems = []
    for (dashboard, panel, variables), queries in by_panel.items():
        allowed = MAY_BE_EMPTY.get((dashboard, panel), ())
        if allowed is None or any(value in allowed for _, value in variables):
            continue
        try:
            if not any(prometheus.has_data(q.expr, start, end) for q in queries):
                problems.append(f"{queries[0].name()}: no data ({queries[0].expr})")
        except ValueError as exc:
            problems.append(f"{queries[0].name()}: Prometheus refused the query: {exc}")
    return problems


# --- ground truth ------------------------------------------------------------------------------------


def _counts(prometheus: Prometheus, service: str, at: float) -> Counter:
    result = prometheus.instant(
        f'sum by (method, route, status) ({REQUESTS}{{job="{settings.SERVICES_JOB}", service="{service}"}})',
        at,
    )
    return Counter(
        {
            (r["metric"]["method"], r["metric"]["route"], int(r["metric"]["status"])): float(r["value"][1])
            for r in result
        }
    )


def count_mismatches(
    prometheus: Prometheus, sent: dict[tuple[str, str, int], int], start: float, end: float, service: str
) -> list[str]:
    """Where the gateway's counters, read at ``start`` and ``end``, do not count exactly what was sent.

    ``sent`` maps (method, route template, status) to the client's count; only routes in it are
    compared (probes and scrapes reach the gateway too)."""
    before, after = _counts(prometheus, service, start), _counts(prometheus, service, end)
    routes = {(method, route) for method, route, _ in sent}
    counted = {
        key: after[key] - before[key] for key in after if key[:2] in routes and after[key] - before[key]
    }
    problems = []
    for key in sorted(set(counted) | set(sent), key=str):
        if counted.get(key, 0) != sent.get(key, 0):
            method, route, status = key
            problems.append(
                f"{method} {route} {status}: the client sent {sent.get(key, 0)}, "
                f"Prometheus counted {counted.get(key, 0):g}"
            )
    return problems


def bucket_index(seconds: float) -> int:
    return next((i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound), len(LATENCY_BUCKETS))


def p95_mismatches(
    prometheus: Prometheus,
    client_p95: dict[tuple[str, str], float],
    start: float,
    end: float,
    service: str,
    at_least: int = 20,
    counts: dict[tuple[str, str], int] | None = None,
) -> list[str]:
    """Routes whose p95 from the histogram is more than one bucket away from the client's.

    The buckets' exact growth between the readings at ``start`` and ``end`` (``@``), not
    ``increase()``: its extrapolation scales each bucket by how far its own count is from zero, which
    skews a quantile of a few dozen requests towards the buckets earlier requests filled. Routes
    with fewer than ``at_least`` requests are skipped: their p95 is one request's latency."""
    selector = (
        f'http_server_request_duration_seconds_bucket{{job="{settings.SERVICES_JOB}", service="{service}"}}'
    )
    at_end, at_start = f"{selector} @ {end:.3f}", f"{selector} @ {start:.3f}"
    # A series first seen inside the window has no reading at the start: all of it is growth.
    growth = f"({at_end} - {at_start}) or ({at_end} unless {at_start})"
    result = prometheus.instant(f"histogram_quantile(0.95, sum by (le, method, route) ({growth}))", end)
    server = {(r["metric"]["method"], r["metric"]["route"]): float(r["value"][1]) for r in result}
    problems = []
    for key, seconds in sorted(client_p95.items()):
        if counts is not None and counts.get(key, 0) < at_least:
            continue
        if key not in server:
            problems.append(f"{key[0]} {key[1]}: no histogram in Prometheus")
            continue
        client_bucket, server_bucket = bucket_index(seconds), bucket_index(server[key])
        if abs(client_bucket - server_bucket) > 1:
            problems.append(
                f"{key[0]} {key[1]}: p95 {server[key] * 1000:.0f} ms in Prometheus, {seconds * 1000:.0f} ms "
                "at the client: more than one bucket apart"
            )
    return problems


# --- the domain's ground truth ------------------------------------------------------------------------

Bounds = tuple[float, float | None]  # at least, at most (None: no upper bound)


@dataclass(frozen=True)
class Truth:
    """What one domain counter must have counted over the window, per value of ``by`` ("" for the
    sum): within ``bounds``, and within ``unlisted`` for a value the load has no count for."""

    panel: str
    counter: str  # the metric with its label filters
    by: str | None
    bounds: dict[str, Bounds]
    unlisted: Bounds = (0, 0)


def _within(proven: float, slack: float | None) -> Bounds:
    return (proven, None if slack is None else proven + slack)


def domain_truths(domain: load.Domain) -> list[Truth]:
    """Each domain counter a dashboard panel shows, against what the load's answers prove.

    Exact where each event is counted once and only the load makes it; a request the platform
    answered 5xx or not at all (``domain.unproven``) may or may not have done its work, so it widens
    the upper bound by what one such request can count (without bound for a chat: its tokens are
    unknown). Imports and sagas whose ending no answer showed (``pending``) may have ended either way.
    """
    job = f'job="{settings.SERVICES_JOB}"'
    unproven = domain.unproven
    chats = None if unproven["chat"] else 0  # an unanswered chat's tokens and tool calls are unknown
    ok_calls = Counter({tool: n for (tool, ok), n in domain.tool_calls.items() if ok})
    failed_calls = sum(n for (_, ok), n in domain.tool_calls.items() if not ok)
    files = {outcome: domain.files[outcome] for outcome in load.FILE_ENDS}
    pending_files = domain.files[load.PENDING] + unproven["upload"]
    pending_rows = None if unproven["upload"] else domain.rows[load.PENDING]
    sagas = {outcome: domain.sagas[outcome] for outcome in load.SAGA_ENDS}
    pending_sagas = domain.sagas[load.PENDING] + unproven["saga"]
    logins, login_slack = domain.logins, unproven["login"]
    return [
        Truth(
            "LLM / Tokens/s by model and type",
            f"llm_tokens_total{{{job}}}",
            "type",
            {kind: _within(domain.tokens[kind], chats) for kind in ("input", "output")},
        ),
        Truth(
            "LLM / Requests/s by model and outcome",
            f'llm_requests_total{{{job}, outcome="ok"}}',
            None,
            {"": _within(domain.completions, chats)},
        ),
        # Every chat answered 200 ended in one of the answered outcomes (answered, tool_failure,
        # no_tools); its input tokens are the answer's usage.
        Truth(
            "LLM / Chats/s by outcome",
            f'llm_chats_total{{{job}, outcome!="failed"}}',
            None,
            {"": _within(domain.chats, unproven["chat"])},
        ),
        Truth(
            "LLM / Input tokens per chat",
            f"llm_chat_input_tokens_sum{{{job}}}",
            None,
            {"": _within(domain.tokens["input"], chats)},
        ),
        # llm-orchestrator counts a name mcp-server does not list under tool="other": errors are
        # compared in sum, successes (always a listed tool) per tool.
        Truth(
            "LLM / Tool calls/s by tool and outcome",
            f'llm_tool_calls_total{{{job}, outcome="ok"}}',
            "tool",
            {tool: _within(n, chats) for tool, n in ok_calls.items()},
            unlisted=_within(0, chats),
        ),
        Truth(
            "LLM / Tool calls/s by tool and outcome",
            f'llm_tool_calls_total{{{job}, outcome="error"}}',
            None,
            {"": _within(failed_calls, chats)},
        ),
        # A call the model made that succeeded went through mcp-server, which counted it as ok too.
        Truth(
            "MCP / Calls/s by tool",
            f'mcp_tool_calls_total{{{job}, outcome="ok"}}',
            "tool",
            {tool: _within(n, chats) for tool, n in ok_calls.items()},
            unlisted=_within(0, chats),
        ),
        # The gateway checks bearer tokens itself: only logins count auth attempts here.
        Truth(
            "Users / Auth attempts/s by method and outcome",
            f'auth_attempts_total{{{job}, method="password"}}',
            "outcome",
            {outcome: _within(logins[outcome], login_slack) for outcome in logins},
            unlisted=_within(0, login_slack),
        ),
        Truth(
            "Users / Tokens issued/s by type",
            f"auth_tokens_issued_total{{{job}}}",
            "type",
            {kind: _within(domain.tokens_issued[kind], login_slack) for kind in ("access", "refresh")},
        ),
        Truth(
            "Users / Activity events/s by type",
            f"activity_events_total{{{job}}}",
            "type",
            {
                "login": _within(logins["success"], login_slack),
                "chat": _within(domain.chats, unproven["chat"]),
                "upload": _within(domain.files.total(), unproven["upload"]),
                "saga": _within(domain.sagas.total(), unproven["saga"]),
            },
        ),
        Truth(
            "Automation / Files/s by type and outcome",
            f'automation_files_processed_total{{{job}, type="csv"}}',
            None,
            {"": _within(domain.files.total(), unproven["upload"])},
        ),
        Truth(
            "Automation / Files/s by type and outcome",
            f'automation_files_processed_total{{{job}, type="csv"}}',
            "outcome",
            {outcome: _within(n, pending_files) for outcome, n in files.items()},
        ),
        # Every csv-import run is a file's import: the scheduled runs are record-count's.
        Truth(
            "Automation / Workflow runs/s by workflow and status",
            f'automation_workflow_runs_total{{{job}, workflow="csv-import"}}',
            "status",
            {
                "succeeded": _within(files["completed"] + files["partial"], pending_files),
                "failed": _within(files["failed"], pending_files),
            },
        ),
        Truth(
            "Automation / Records imported/s and rows rejected/s",
            f"automation_records_imported_total{{{job}}}",
            None,
            {"": _within(domain.rows["imported"], pending_rows)},
        ),
        Truth(
            "Automation / Records imported/s and rows rejected/s",
            f'automation_row_errors_total{{{job}, type="csv"}}',
            None,
            {"": _within(domain.rows["rejected"], pending_rows)},
        ),
        Truth(
            "Sagas / Sagas ended/s by saga and outcome",
            f'saga_runs_total{{{job}, saga="onboarding"}}',
            None,
            {"": _within(domain.sagas.total(), unproven["saga"])},
        ),
        Truth(
            "Sagas / Sagas ended/s by saga and outcome",
            f'saga_runs_total{{{job}, saga="onboarding"}}',
            "outcome",
            {outcome: _within(n, pending_sagas) for outcome, n in sagas.items()},
        ),
    ]


def _totals(prometheus: Prometheus, truth: Truth, at: float) -> Counter:
    grouping = f" by ({truth.by})" if truth.by else ""
    result = prometheus.instant(f"sum{grouping} ({truth.counter})", at)
    return Counter({r["metric"].get(truth.by or "", ""): float(r["value"][1]) for r in result})


def _expected(bounds: Bounds) -> str:
    low, high = bounds
    if high is None:
        return f"at least {low:g}"
    return f"{low:g}" if high == low else f"{low:g} to {high:g}"


def domain_mismatches(prometheus: Prometheus, domain: load.Domain, start: float, end: float) -> list[str]:
    """Where a domain counter's increase from ``start`` to ``end`` is outside what the load's
    answers prove (``domain_truths``)."""
    problems = []
    for truth in domain_truths(domain):
        before, after = _totals(prometheus, truth, start), _totals(prometheus, truth, end)
        for value in sorted(set(truth.bounds) | set(after)):
            counted = after[value] - before[value]
            low, high = bounds = truth.bounds.get(value, truth.unlisted)
            if counted < low or (high is not None and counted > high):
                where = f" {truth.by}={value}" if truth.by else ""
                problems.append(
                    f"{truth.panel}: {truth.counter}{where}: the load's answers prove {_expected(bounds)}, "
                    f"Prometheus counted {counted:g}"
                )
    return problems


# --- one run ---------------------------------------------------------------------------------------


def _fresh_scrapes(prometheus: Prometheus, since: float, services: Collection[str]) -> bool:
    selector = f'up{{job="{settings.SERVICES_JOB}"}}'
    now = time.time()
    up = prometheus.instant(selector, now)
    taken = {
        r["metric"]["instance"]: float(r["value"][1])
        for r in prometheus.instant(f"timestamp({selector})", now)
    }
    fresh = [r["value"][1] == "1" and taken.get(r["metric"]["instance"], 0) > since for r in up]
    return all(fresh) and {r["metric"]["service"] for r in up} >= set(services)


def wait_for_scrape(
    prometheus: Prometheus, since: float, services: Collection[str], timeout: float = SCRAPE_WAIT_SECONDS
) -> None:
    """Until every instance of every service in ``services`` has a scrape taken after ``since``,
    for at most ``timeout`` (then the counts show what is missing). A fixed sleep is not enough:
    Prometheus finds a just-started platform's targets over several seconds, and a scrape can fail
    or come late on a busy machine; the window would start from a reading older than ``since``,
    or from none at all, and count earlier work as the load's."""
    deadline = time.monotonic() + timeout
    while not _fresh_scrapes(prometheus, since, services) and time.monotonic() < deadline:
        time.sleep(0.5)


@dataclass
class LiveReport:
    sent: int
    window_seconds: int
    panels: int
    empty: list[str]
    counts: list[str]
    p95: list[str]
    domain: list[str]

    @property
    def problems(self) -> list[str]:
        return [*self.empty, *self.counts, *self.p95, *self.domain]


def run(
    root: Path, prometheus_url: str, gateway: str, api_key: str, duration: float, rps: float
) -> LiveReport:
    """`airscope load` for ``duration``, then every check above over its window."""
    prometheus = Prometheus(prometheus_url)
    # Requests that ended just before must be in a scrape older than `start`, or they count in it.
    wait_for_scrape(prometheus, time.time(), service_catalog.load().services)
    start = time.time()
    tally = load.send(gateway, api_key, rps, duration)
    time.sleep(SETTLE_SECONDS)
    end = time.time()
    sent = Counter()
    for (method, route, status, _), n in tally.counts.items():
        if status is not None:
            sent[(method, route, status)] += n
    latencies = {key: sorted(values) for key, values in tally.latencies.items()}
    client_p95 = {key: load.percentile(values, 0.95) for key, values in latencies.items() if values}
    window = int(end - start) + 1
    return LiveReport(
        sent=tally.sent,
        window_seconds=window,
        panels=len(panel_queries(root)),
        empty=empty_panels(root, prometheus, start, end),
        counts=count_mismatches(prometheus, dict(sent), start, end, GATEWAY),
        p95=p95_mismatches(
            prometheus, client_p95, start, end, GATEWAY, counts={k: len(v) for k, v in latencies.items()}
        ),
        domain=domain_mismatches(prometheus, tally.domain, start, end),
    )
