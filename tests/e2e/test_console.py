"""The local console in a real headless Chromium, on the platform `airscope up` starts
(tests/e2e/conftest.py; ``platform["console"]`` is its URL), after one known `airscope load` the
module's tests share.

- Every panel of every dashboard is drawn with data, apart from a short list whose emptiness is
  reasoned (the same idea as `airscope check --live`'s).
- Fidelity: what the Overview and Service dashboards show (stat values, each series' last point,
  table rows) is what Prometheus' HTTP API answers for the same query at the same time, to the
  displayed precision; the gateway's request counts shown in Explore are what the load sent.
- Click paths: an exemplar opens its trace; a span opens its trace's logs; a log line's trace id
  opens the trace; a silence made in the page reaches Alertmanager and keeps a notification away,
  and expiring it lets the next one through.
- Keyboard alone: tab to a dashboard, change the time range, open a panel.
- Bad input gets a clear message and changes nothing; no page throws an uncaught error.

A page is drawn when every panel element carries ``data-state`` (data, empty, unsupported, error).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Page

from airscope import catalog, checkout
from airscope.local import alert_receiver
from airscope.local.live_check.check import SETTLE_SECONDS, wait_for_budgets, wait_for_scrape
from airscope.local.live_check.panels import EMPTY_LOCALLY, MAY_BE_EMPTY
from airscope.promapi import Alertmanager, Prometheus
from tests.e2e.conftest import API_KEY, RunningPlatform, known_load
from tests.support import wait_until

# The first test also waits for the module's load and its settle (about a minute).
pytestmark = [pytest.mark.infra, pytest.mark.timeout(300)]

DASHBOARDS = checkout.root() / "deploy" / "grafana" / "dashboards"
GATEWAY = "api-gateway"
LOAD_SECONDS = 15
LOAD_RPS = 5.0
WINDOW_MS = 15 * 60 * 1000  # the dashboards are opened over the last 15 minutes up to the load's end
DRAW_MS = 30_000

# Panels rightly empty after a normal load, with why; keyed by (dashboard title, panel title).
# The Prometheus ones are `airscope check --live`'s list; the rest read the local logs and spans.
REASONED_EMPTY: dict[tuple[str, str], str] = {
    **{key: "empty under normal load (airscope check --live's list)" for key in MAY_BE_EMPTY},
    ("airscope / Service", "Failed traces"): "nothing fails under normal load",
    ("airscope / Logs", "Error lines"): "nothing logs an error under normal load",
    # Measured by the frontend's page after a chat in a real browser (tests/e2e/test_frontend.py
    # drives one); `airscope load` chats through the gateway, not the page.
    ("airscope / Frontend (real users)", "Time to first chat answer"): "only a browser's chat feeds it",
}
# Panels whose query is outside the LogQL/TraceQL subset the console runs, with why (none today:
# every query the generator emits runs locally).
REASONED_UNSUPPORTED: dict[tuple[str, str], str] = {}

DRAWN = """(expected) => {
    const panels = [...document.querySelectorAll('[data-panel-id]')]
        .filter((e) => e.dataset.panelType !== 'row');
    return panels.length >= expected && panels.every((e) => e.dataset.state);
}"""


@dataclass(frozen=True)
class Loaded:
    start: float
    end: float  # after the settle: every counter scraped, every rule evaluated
    sent: Counter  # (method, route, status) -> requests the client sent through the gateway
    chat_trace: str  # a chat's trace id (crosses the gateway, the orchestrator, mcp-server...)

    @property
    def window(self) -> str:
        end_ms = int(self.end * 1000)
        return f"from={end_ms - WINDOW_MS}&to={end_ms}"


def dashboards() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))]


def dashboard(uid: str) -> dict:
    return next(board for board in dashboards() if board["uid"] == uid)


def panels(board: dict) -> list[dict]:
    return [panel for panel in board["panels"] if panel["type"] != "row"]


@pytest.fixture(scope="module")
def loaded(platform: RunningPlatform) -> Loaded:
    """One known `airscope load` through the gateway, and a chat whose trace is on disk."""
    with Prometheus(platform["prometheus"], timeout=30) as prometheus:
        wait_for_budgets(prometheus)
        wait_for_scrape(prometheus, time.time(), catalog.load().services)
    start = time.time()
    sent, trace_id = known_load(platform, LOAD_RPS, LOAD_SECONDS)
    time.sleep(SETTLE_SECONDS)
    return Loaded(start, time.time(), sent, trace_id)


@pytest.fixture
def browser_page(page: Page) -> Iterator[Page]:
    """The page, failing the test on any uncaught error in it (a bad answer the page reports to its
    user is no error: the browser's own "Failed to load resource" line for a 4xx is left out)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"console.error: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.set_default_timeout(DRAW_MS)
    page.set_viewport_size({"width": 1600, "height": 1000})
    yield page
    assert errors == [], "\n".join(errors)


def drawn(page: Page, board: dict) -> dict[int, dict]:
    """Waits until every panel of the open dashboard is drawn (the one panel with viewPanel); each
    panel's type, state and text."""
    expected = 1 if "viewPanel=" in page.url else len(panels(board))
    page.wait_for_function(DRAWN, arg=expected, timeout=DRAW_MS)
    return {
        int(found["id"]): found
        for found in page.evaluate(
            """() => [...document.querySelectorAll('[data-panel-id]')].map((e) => ({
                id: e.dataset.panelId, type: e.dataset.panelType, state: e.dataset.state,
                text: e.innerText.slice(0, 400),
            }))"""
        )
        if found["type"] != "row"
    }


def open_dashboard(page: Page, console: str, board: dict, query: str) -> dict[int, dict]:
    page.goto(f"{console}/d/{board['uid']}?{query}")
    return drawn(page, board)


# --- every panel -----------------------------------------------------------------------------------


def board_problems(page: Page, console: str, board: dict, window: str) -> list[str]:
    shown = open_dashboard(page, console, board, window)
    problems = []
    for panel in panels(board):
        key = (board["title"], panel["title"])
        found = shown.get(panel["id"])
        allowed = {"data"}
        allowed |= {"empty"} if key in REASONED_EMPTY or board["title"] in EMPTY_LOCALLY else set()
        allowed |= {"unsupported"} if key in REASONED_UNSUPPORTED else set()
        if found is None:
            problems.append(f"{key}: not on the page")
        elif found["state"] not in allowed:
            problems.append(f"{key}: {found['state']}: {found['text']!r}")
    return problems


def test_every_panel_of_every_dashboard_is_drawn_with_data(platform, loaded, browser_page):
    problems = []
    for board in dashboards():
        found = board_problems(browser_page, platform["console"], board, loaded.window)
        if found:
            # Once more: a query can time out while the shared 2-core machine is busy; a panel that
            # is wrong stays wrong, and both readings are reported.
            time.sleep(5)
            again = board_problems(browser_page, platform["console"], board, loaded.window)
            problems += [f"{problem} (first: {found})" for problem in again]
    assert problems == [], "\n".join(problems)


# --- fidelity ---------------------------------------------------------------------------------------

NUMBER = re.compile(
    r"^\s*(?P<pre>[$€£]?)\s*(?P<number>-?[\d,]*\.?\d+(?:e[-+]?\d+)?)\s*(?P<suffix>.*?)\s*$", re.I
)
# Grafana's unit suffixes, as multipliers of the base unit (the value Prometheus answers).
SCALES = {
    "": 1,
    "%": 0.01,
    "ns": 1e-9,
    "µs": 1e-6,
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "K": 1e3,
    "k": 1e3,
    "M": 1e6,
    "Mil": 1e6,
    "B": 1e9,
    "Bil": 1e9,
    "T": 1e12,
    "Tri": 1e12,
}
BYTES = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "kB": 1e3, "MB": 1e6, "GB": 1e9}
RATE_UNITS = ("req/s", "ops/s", "reqps", "ops", "rps", "/s")


def shown_number(text: str, unit: str | None) -> tuple[float, float]:
    """(value in the base unit, half of the last displayed digit in the base unit) of a displayed
    text such as "12.3 ms", "1.5K req/s", "0.51%", "$1.20", "183 MiB"."""
    found = NUMBER.match(text.replace("\u00a0", " "))
    assert found, f"{text!r} is not a number the console displays"
    digits = found["number"].replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    suffix = found["suffix"]
    for rate in RATE_UNITS:
        if suffix.endswith(rate):
            suffix = suffix.removesuffix(rate).strip()
    if unit == "bytes" or (suffix in BYTES and suffix not in SCALES):
        scale = BYTES.get(suffix, SCALES.get(suffix))
    else:
        scale = SCALES.get(suffix)
    assert scale is not None, f"{text!r}: unknown unit suffix {suffix!r}"
    return float(digits) * scale, 0.5 * 10**-decimals * scale


def agrees(text: str, truth: float | None, unit: str | None, mappings: dict[str, float]) -> bool:
    if text.strip() in mappings:
        return truth == mappings[text.strip()]
    if truth is None or math.isnan(truth):
        return text.strip() in ("", "No data", "NaN", "-")
    value, half_digit = shown_number(text, unit)
    return abs(value - truth) <= half_digit * 1.0001 + 1e-12


def _mappings(found: list[dict]) -> dict[str, float]:
    """Value mappings as displayed text -> value ("UP" -> 1)."""
    texts = {}
    for mapping in found:
        if mapping.get("type") == "value":
            for value, to in mapping.get("options", {}).items():
                if "text" in to:
                    texts[to["text"]] = float(value)
    return texts


def field_config(panel: dict, ref_id: str) -> tuple[str | None, dict[str, float]]:
    """The unit and value mappings of a target's field: the defaults, then the overrides that
    match it by refId (the only matcher the stats use)."""
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    unit, mappings = defaults.get("unit"), defaults.get("mappings", [])
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override.get("matcher", {}) == {"id": "byFrameRefID", "options": ref_id}:
            for prop in override.get("properties", []):
                if prop["id"] == "unit":
                    unit = prop["value"]
                elif prop["id"] == "mappings":
                    mappings = prop["value"]
    return unit, _mappings(mappings)


def interpolated(expr: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        expr = re.sub(rf"\$\{{?{name}\}}?", value, expr)
    return expr


def default_variables(board: dict) -> dict[str, str]:
    return {
        variable["name"]: variable["current"]["value"]
        for variable in board.get("templating", {}).get("list", [])
        if isinstance(variable.get("current", {}).get("value"), str)
    }


def record_answers(page: Page) -> list:
    """Keeps every /api/ds/query response the page receives (read once the page is drawn)."""
    responses: list = []
    page.on(
        "response",
        lambda response: responses.append(response) if response.url.endswith("/api/ds/query") else None,
    )
    return responses


def answers_by_panel(responses: list) -> dict[int, dict]:
    """Each panel's last answer as the page received it: panel id -> {refId: Frame}."""
    answers = {}
    for response in responses:
        if response.ok:
            asked = json.loads(response.request.post_data or "{}")
            answers[int(asked["panelId"])] = response.json()["results"]
    return answers


@pytest.mark.parametrize("uid", ["airscope-overview", "airscope-service"])
def test_the_values_shown_are_prometheus_answers(platform, loaded, browser_page, uid):
    board = dashboard(uid)
    variables = default_variables(board)
    at = loaded.end
    responses = record_answers(browser_page)
    shown = open_dashboard(browser_page, platform["console"], board, loaded.window)
    answers = answers_by_panel(responses)
    problems, compared = [], 0
    with Prometheus(platform["prometheus"], timeout=30) as prometheus:
        for panel in panels(board):
            where = f"{board['title']} / {panel['title']}"
            element = browser_page.locator(f'[data-panel-id="{panel["id"]}"]')
            source = (panel.get("datasource") or {}).get("type")
            if source != "prometheus" or shown[panel["id"]]["state"] != "data":
                continue
            if panel["type"] == "stat":
                texts = element.locator(".stat-value").all_inner_texts()
                truths = [
                    (sample.value, *field_config(panel, target["refId"]))
                    for target in panel["targets"]
                    for sample in prometheus.query(interpolated(target["expr"], variables), at)
                ]
                if len(texts) != len(truths):
                    problems.append(f"{where}: shows {texts}, Prometheus answers {truths}")
                    continue
                for text, (truth, field_unit, mappings) in zip(texts, truths, strict=True):
                    compared += 1
                    if not agrees(text, truth, field_unit, mappings):
                        problems.append(f"{where}: shows {text!r}, Prometheus answers {truth}")
            elif panel["type"] == "table":
                rows = element.locator("tbody tr").count()
                truth = sum(
                    len(prometheus.query(interpolated(t["expr"], variables), at)) for t in panel["targets"]
                )
                compared += 1
                if rows != truth:
                    problems.append(f"{where}: {rows} rows, Prometheus answers {truth} series")
            elif panel["type"] == "timeseries":
                # Each legend entry's raw last value (data-last): what the page drew, not only what it got.
                legend = dict(
                    element.locator(".legend-row").evaluate_all(
                        "(rows) => rows.map((r) => [r.dataset.series, r.dataset.last])"
                    )
                )
                for frame in answers.get(panel["id"], {}).values():
                    if frame.get("kind") != "series":
                        continue
                    for series in frame["series"]:
                        points = [(ms, v) for ms, v in series["points"] if v is not None]
                        if not points:
                            continue
                        if (
                            panel.get("options", {}).get("legend", {}).get("showLegend", True)
                            and series["name"] not in legend
                        ):
                            problems.append(
                                f"{where}: series {series['name']!r} is not in the legend {sorted(legend)}"
                            )
                        ms, value = points[-1]
                        drawn_last = legend.get(series["name"])
                        if drawn_last not in (None, "") and not math.isclose(
                            float(drawn_last), value, rel_tol=1e-9
                        ):
                            problems.append(
                                f"{where}: {series['name']} drawn ending at {drawn_last}, answered {value}"
                            )
                        truth = {
                            tuple(sorted(s.labels.items())): s.value
                            for s in prometheus.query(frame["expr"], ms / 1000)
                        }.get(tuple(sorted(series["labels"].items())))
                        compared += 1
                        if truth is None or not math.isclose(value, truth, rel_tol=1e-9, abs_tol=1e-12):
                            problems.append(
                                f"{where}: {series['name']} ends at {value} ({ms}), Prometheus answers {truth}"
                            )
    assert compared >= 10, f"only {compared} values compared on {board['title']}"
    assert problems == [], "\n".join(problems)


def explore_metrics(page: Page, console: str, expr: str, at: float) -> list[dict[str, str]]:
    """Types an instant PromQL query into Explore's Metrics tab, its time range ending at ``at``,
    and runs it with Enter; the result table's rows as {column: cell}."""
    at_ms = int(at * 1000)
    page.goto(f"{console}/explore?tab=metrics&from={at_ms - 60_000}&to={at_ms}")
    box = page.locator('textarea[name="expr"]')
    box.fill(expr)
    page.get_by_label("Instant", exact=True).check()
    box.press("Enter")
    page.locator('section[aria-label="Result"][data-state="data"]').wait_for()
    table = page.locator('table[aria-label="Query result"]')
    headers = table.locator("thead th").all_inner_texts()
    return [
        dict(zip(headers, row.locator("td").all_inner_texts(), strict=False))
        for row in table.locator("tbody tr").all()
    ]


def test_the_gateways_request_counts_shown_are_what_the_load_sent(platform, loaded, browser_page):
    counter = f'http_server_request_duration_seconds_count{{job="services", service="{GATEWAY}"}}'
    # A counter's growth over the window, exactly: now minus then (increase() would extrapolate), then
    # read at the load's start itself (`@`), after the scrape the fixture waited for: an earlier
    # reading holds the last requests of the test before; `or now` for a route first counted inside
    # the window, which has no series then.
    now = f"sum by (method, route, status) ({counter})"
    expr = f"({now} - sum by (method, route, status) ({counter} @ {loaded.start:.3f})) or {now}"
    rows = explore_metrics(browser_page, platform["console"], expr, loaded.end)
    counted = Counter()
    for row in rows:
        value = float(row.get("Value", "0").replace(",", ""))
        if value:
            counted[(row["method"], row["route"], int(row["status"]))] = round(value)
    routes = {(method, route) for method, route, _ in loaded.sent}
    counted = Counter({key: n for key, n in counted.items() if key[:2] in routes})
    assert counted == loaded.sent, f"Explore's table: {rows[:5]}"


# --- click paths --------------------------------------------------------------------------------------


def visible(page: Page, selector: str) -> None:
    """Waits for ``selector``; on a timeout, says what the page showed instead."""
    try:
        page.locator(selector).first.wait_for()
    except Exception:
        shown = page.locator("#page").inner_text()[:1500]
        pytest.fail(f"no {selector} on {page.url}; the page shows:\n{shown}")


def trace_drawn(page: Page, trace_id: str) -> None:
    visible(page, f'.wf[data-trace-id="{trace_id}"][data-state="data"]')


def test_an_exemplar_opens_its_trace(platform, loaded, browser_page):
    board = dashboard("airscope-service")
    panel = next(p for p in panels(board) if any(t.get("exemplar") for t in p.get("targets", [])))
    open_dashboard(browser_page, platform["console"], board, f"{loaded.window}&viewPanel={panel['id']}")
    exemplar = browser_page.locator(f'[data-panel-id="{panel["id"]}"] a[href*="/explore?trace="]').first
    href = exemplar.get_attribute("href")
    trace_id = parse_qs(urlparse(href).query)["trace"][0]
    # Dots overlap where requests were close in time: open one as the keyboard does, not by a click
    # that the next dot would take.
    exemplar.focus()
    browser_page.keyboard.press("Enter")
    browser_page.wait_for_url(re.compile(rf"/explore\?.*trace={trace_id}"))
    trace_drawn(browser_page, trace_id)
    assert browser_page.locator("[data-span-id]").count() >= 1


def test_a_span_opens_its_traces_logs_and_a_log_line_opens_the_trace(platform, loaded, browser_page):
    trace_id = loaded.chat_trace
    browser_page.goto(f"{platform['console']}/explore?trace={trace_id}")
    trace_drawn(browser_page, trace_id)
    services = set(
        browser_page.locator("[data-span-id]").evaluate_all("(rows) => rows.map((r) => r.dataset.service)")
    )
    assert {GATEWAY, "llm-orchestrator", "mcp-server", "airtable-gateway"} <= services

    browser_page.locator("[data-span-id] .wf-span").first.click()
    browser_page.locator(".wf-detail .wf-logs-link").first.click()
    browser_page.wait_for_url(
        re.compile(rf"/explore\?.*tab=logs.*trace={trace_id}|/explore\?.*trace={trace_id}.*tab=logs")
    )
    visible(browser_page, ".log-line")
    links = browser_page.locator(".log-line .log-trace").evaluate_all("(links) => links.map((a) => a.href)")
    assert links and all(f"trace={trace_id}" in link for link in links), links

    browser_page.locator(".log-line .log-trace").first.click()
    browser_page.wait_for_url(re.compile(rf"/explore\?trace={trace_id}$"))
    trace_drawn(browser_page, trace_id)


def notified(alertname: str) -> bool:
    """Whether the local receiver kept a notification naming ``alertname`` (each kept line holds
    Alertmanager's webhook payload under "notification")."""
    return any(
        alert.get("labels", {}).get("alertname") == alertname
        for kept in alert_receiver.read()
        for alert in kept.get("notification", {}).get("alerts", [])
    )


def fire(alertmanager: str, alertname: str, lasting: timedelta = timedelta(minutes=5)) -> None:
    """What Prometheus does for a firing rule: the alert posted to Alertmanager (resent while it fires);
    ``lasting`` 0 resolves it, as Prometheus does once the rule stops firing."""
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": alertname, "severity": "warning", "service": "mcp-server"},
        "annotations": {"summary": "the console's silence test"},
        "startsAt": now.isoformat(),
        "endsAt": (now + lasting).isoformat(),
    }
    httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=10).raise_for_status()


def silence_ids(platform: RunningPlatform, alertname: str, state: str = "active") -> list[str]:
    with Alertmanager(platform["alertmanager"]) as alertmanager:
        return [
            s.id
            for s in alertmanager.silences()
            if s.matchers.get("alertname") == alertname and s.state == state
        ]


def test_a_silence_made_in_the_page_keeps_the_notification_away_until_it_is_expired(platform, browser_page):
    alertname = f"ConsoleSilence{secrets.token_hex(4)}"
    page = browser_page
    page.goto(f"{platform['console']}/alerting/silences")
    page.get_by_label(re.compile("API key", re.I)).fill(API_KEY)
    page.get_by_label(re.compile("^(label|name)", re.I)).first.fill("alertname")
    page.get_by_label(re.compile("^value", re.I)).first.fill(alertname)
    page.get_by_label(re.compile("duration", re.I)).fill("1h")
    page.get_by_label(re.compile("comment", re.I)).fill("the console's e2e test")
    page.get_by_role("button", name=re.compile("create", re.I)).click()
    [silence] = wait_until(
        lambda: silence_ids(platform, alertname), timeout=10, message="the silence in Alertmanager"
    )
    page.get_by_text(alertname).first.wait_for()

    fire(platform["alertmanager"], alertname)

    def suppressed() -> bool:
        with Alertmanager(platform["alertmanager"]) as alertmanager:
            states = [a.state for a in alertmanager.alerts() if a.labels.get("alertname") == alertname]
        assert states == ["suppressed"], states
        return True

    wait_until(suppressed, timeout=10, message="the alert silenced")
    time.sleep(12)  # past group_wait (5 s locally) and a group_interval: a notification would be in
    assert not notified(alertname)

    page.locator(f'[data-silence-id="{silence}"]').get_by_role(
        "button", name=re.compile("expire", re.I)
    ).click()
    wait_until(lambda: silence_ids(platform, alertname, "expired"), timeout=10, message="the silence expired")
    fire(platform["alertmanager"], alertname)  # Prometheus resends a firing alert
    wait_until(
        lambda: notified(alertname), timeout=30, interval=0.5, message="the notification after the expiry"
    )
    # Resolved, so that the tests after this one see a platform with nothing firing.
    fire(platform["alertmanager"], alertname, lasting=timedelta(0))


# --- keyboard ---------------------------------------------------------------------------------------


def tab_to(page: Page, predicate: str, limit: int = 200) -> None:
    """Presses Tab until the focused element satisfies ``predicate`` (a JS function of it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            f"() => {{ const e = document.activeElement; return Boolean(e && ({predicate})(e)); }}"
        ):
            return
    pytest.fail(f"Tab never reached an element where {predicate}")


def test_the_main_paths_work_with_the_keyboard_alone(platform, loaded, browser_page):
    page = browser_page
    board = dashboard("airscope-overview")
    page.goto(platform["console"] + "/")
    tab_to(
        page, f"(e) => e.tagName === 'A' && (e.getAttribute('href') || '').startsWith('/d/{board['uid']}')"
    )
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/d/{board['uid']}"))
    drawn(page, board)

    tab_to(page, "(e) => /time range/i.test(e.getAttribute('aria-label') || '')")
    page.keyboard.press("Enter")
    tab_to(page, "(e) => e.dataset.from === 'now-5m'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"from=now-5m"))
    drawn(page, board)

    tab_to(page, "(e) => /^view/i.test((e.getAttribute('aria-label') || e.textContent || '').trim())")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"viewPanel=\d+"))
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-panel-id]')].some((e) => e.dataset.state)"
    )


# --- bad input ----------------------------------------------------------------------------------------


def test_a_promql_syntax_error_in_explore_says_so(platform, browser_page):
    page = browser_page
    page.goto(f"{platform['console']}/explore?tab=metrics")
    box = page.locator('textarea[name="expr"]')
    box.fill("sum(rate(http_server_request_duration_seconds_count[5m])")
    box.press("Enter")
    page.locator('section[aria-label="Result"][data-state="error"]').wait_for()
    message = page.locator(".explore-error[role=alert]").inner_text()
    assert re.search("parse error|unclosed|expected", message, re.I), message


def test_an_unknown_dashboard_says_which_exist(platform, browser_page):
    browser_page.goto(f"{platform['console']}/d/no-such-dashboard")
    message = browser_page.get_by_role("alert").first
    message.wait_for()
    text = message.inner_text()
    assert "no-such-dashboard" in text and "airscope-overview" in text, text


def test_a_range_that_ends_before_it_starts_is_refused(platform, loaded, browser_page):
    page = browser_page
    board = dashboard("airscope-overview")
    open_dashboard(page, platform["console"], board, "from=now-1h&to=now")
    page.get_by_label(re.compile("^Time range", re.I)).first.click()
    page.get_by_label("From", exact=True).first.fill("now")
    page.get_by_label("To", exact=True).first.fill("now-1h")
    page.get_by_role("button", name=re.compile("apply time range", re.I)).first.click()
    error = page.locator(".time-error")
    error.wait_for()
    assert "before it starts" in error.inner_text()
    assert "from=now-1h" in page.url and "to=now" in page.url

    # In the URL too: the page says so instead of drawing anything.
    page.goto(f"{platform['console']}/d/{board['uid']}?from=now&to=now-1h")
    page.get_by_text(re.compile("before it starts")).first.wait_for()


def test_a_silence_with_no_matcher_is_refused_and_changes_nothing(platform, browser_page):
    page = browser_page
    with Alertmanager(platform["alertmanager"]) as alertmanager:
        before = len(alertmanager.silences())
    page.goto(f"{platform['console']}/alerting/silences")
    page.get_by_label(re.compile("API key", re.I)).fill(API_KEY)
    page.get_by_label(re.compile("comment", re.I)).fill("no matcher")
    page.get_by_role("button", name=re.compile("create", re.I)).click()
    page.get_by_role("alert").filter(has_text=re.compile("matcher", re.I)).first.wait_for()
    with Alertmanager(platform["alertmanager"]) as alertmanager:
        assert len(alertmanager.silences()) == before
