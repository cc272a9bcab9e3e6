"""The console in a real browser (Debian's chromium driven by Playwright): ``airscope bench console``
times what its goals bound, and ``airscope console screenshots`` takes a picture of every dashboard.

The goals (issue 18, docs/performance/local.md):

- the Overview dashboard fully drawn (every panel with its data) within 2 s of opening, the platform
  under ``airscope load``'s normal rate;
- the console's own memory at most 100 MiB, the whole platform's still within 1.5 GiB at idle;
- a trace of 100 spans drawn within 500 ms, a log search over a million lines answered within 2 s in
  the page.

A page is drawn when every panel element carries its ``data-state`` (the browser modules set it
once a panel shows its data, "No data", an unsupported query or an error), so the time is the page's
own ``performance.now()`` at that moment: from the navigation's start, as a user waits.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import orjson

from airscope import catalog, checkout
from airscope.bench import BenchError
from airscope.bench import logs as bench_logs
from airscope.local import api_key, load, observability, paths, ports
from airscope.local.process import pss_bytes, tree
from airscope.local.supervisor import Supervisor

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright's own browser downloads are never used
OVERVIEW = "airscope-overview"
VIEWPORT = {"width": 1600, "height": 1000}
DRAW_TIMEOUT_MS = 30_000
RUNS = 3
NORMAL_RPS = 5.0  # `airscope load`'s default rate
TRACE_SPANS = 100
LOG_LINES = 1_000_000

GOALS = {
    "overview_ms": 2000.0,
    "console_mib": 100.0,
    "platform_mib": 1536.0,
    "trace_ms": 500.0,
    "logs_s": 2.0,
}

# Every panel of the page has its final state (rows are headings, not panels that query).
DRAWN = """(expected) => {
    const panels = [...document.querySelectorAll('[data-panel-id]')]
        .filter((e) => e.dataset.panelType !== 'row');
    return panels.length >= expected && panels.every((e) => e.dataset.state);
}"""
# Explore's trace view: waterfall.js marks the drawn trace, a row per span.
TRACE_DRAWN = "(n) => document.querySelector('.wf[data-state=\"data\"]') && document.querySelectorAll('[data-span-id]').length >= n"
# Explore's logs view: the search answered and its lines are on the page.
LOGS_DRAWN = "() => document.querySelectorAll('.log-line').length > 0"


@contextlib.contextmanager
def browser() -> Iterator[Browser]:
    """Headless Debian chromium, closed on the way out."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BenchError(
            "Playwright is not installed: `make bootstrap` installs every pinned package (requirements.lock)"
        ) from None
    if not Path(CHROMIUM).exists():
        raise BenchError(f"no {CHROMIUM}: install Debian's package chromium (sudo apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


def console_url() -> str:
    """The running console's URL (``AIRSCOPE_PORT_CONSOLE``, else Grafana's 3000), once it answers."""
    url = f"http://127.0.0.1:{observability.local_ports()['console']}"
    try:
        httpx.get(url + "/health/live", timeout=5).raise_for_status()
    except httpx.HTTPError as e:
        raise BenchError(
            f"the console does not answer at {url} ({e}): start the platform with `make up`"
        ) from None
    return url


def frontend_url() -> str:
    """The running frontend's URL (``AIRSCOPE_PORT_FRONTEND``, else the catalog's port)."""
    return f"http://127.0.0.1:{ports.port_for('frontend', catalog.load().services['frontend'].port)}"


def visit_as_a_user(frontend: str, progress: Callable[[str], None] = print) -> None:
    """One user in a real browser: registers, chats once, and leaves. The frontend's real-user panels
    (web vitals, page views, time to the first chat answer) are fed only by a browser: `airscope load`
    calls the gateway directly."""
    with browser() as chromium:
        page = chromium.new_page(viewport=VIEWPORT)
        try:
            page.goto(frontend + "/")
            page.wait_for_selector("#view-signin:not([hidden])", timeout=DRAW_TIMEOUT_MS)
            page.fill("#signin-email", f"screenshots-{secrets.token_hex(4)}@example.com")
            page.fill("#signin-password", secrets.token_urlsafe(12))
            page.fill("#signin-name", "Screenshots")
            page.click("#register-submit")
            page.wait_for_selector("#view-chat:not([hidden])", timeout=DRAW_TIMEOUT_MS)
            page.fill("#chat-input", "List the tables in my base")
            page.click("#chat-send")
            page.wait_for_selector("#chat-log li.assistant .trace", timeout=60_000)  # answered, not pending
            # The first answer is measured in the frame after it was painted; a hidden page (what
            # switching tabs does) has its Faro SDK report LCP, CLS and INP and send what it holds.
            page.evaluate("() => new Promise((done) => requestAnimationFrame(done))")
            page.evaluate(
                """() => {
                    Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
                    document.dispatchEvent(new Event("visibilitychange"));
                }"""
            )
            page.wait_for_timeout(1000)
        except Exception as e:  # Playwright's timeout: say which step, not a stack
            raise BenchError(
                f"the frontend at {frontend} did not sign a user in and answer a chat: {e}"
            ) from None
    progress(f"a user signed in and chatted at {frontend}")


def dashboards(directory: Path | None = None) -> list[dict]:
    """The generated dashboards' JSON, by uid."""
    directory = directory or checkout.root() / "deploy" / "grafana" / "dashboards"
    found = [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]
    if not found:
        raise BenchError(f"no dashboards in {directory}: run `airscope gen`")
    return sorted(found, key=lambda board: board["uid"])


def visible_panels(dashboard: dict) -> int:
    """The panels drawn when the dashboard opens: those outside rows and in open rows (a collapsed
    row keeps its panels inside it, undrawn until it is opened)."""
    return sum(1 for panel in dashboard.get("panels", []) if panel.get("type") != "row")


def open_dashboard(page: Page, base: str, dashboard: dict, query: str = "") -> float:
    """Opens ``/d/<uid>`` and waits until every panel is drawn; returns the ms since navigation."""
    page.goto(f"{base}/d/{dashboard['uid']}{'?' + query if query else ''}")
    page.wait_for_function(DRAWN, arg=visible_panels(dashboard), timeout=DRAW_TIMEOUT_MS)
    return float(page.evaluate("() => performance.now()"))


def label(page: Page, text: str) -> None:
    """A banner above the page: a screenshot must not pass for Grafana's."""
    page.evaluate(
        """(text) => {
            const banner = document.createElement('div');
            banner.textContent = text;
            banner.setAttribute('role', 'note');
            banner.style.cssText = 'background:#3d71d9;color:#fff;font:600 14px sans-serif;'
                + 'padding:6px 12px;letter-spacing:0.02em';
            document.body.prepend(banner);
        }""",
        text,
    )


def screenshots(
    base: str, out: Path, window: str = "now-15m", progress: Callable[[str], None] = print
) -> list[Path]:
    """``out``/console-<uid>.png of every dashboard, drawn over the last ``window``, labelled as the
    local console."""
    out.mkdir(parents=True, exist_ok=True)
    taken = []
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with browser() as chromium:
        page = chromium.new_page(viewport=VIEWPORT)
        for dashboard in dashboards():
            try:
                open_dashboard(page, base, dashboard, f"from={window}&to=now")
            except Exception as e:  # Playwright's timeout: name the dashboard, not a stack
                raise BenchError(
                    f"{dashboard['title']} was not drawn within {DRAW_TIMEOUT_MS} ms: {e}"
                ) from None
            label(page, f"airscope local console (not Grafana) · {dashboard['title']} · {when}")
            path = out / f"console-{dashboard['uid']}.png"
            page.screenshot(path=str(path), full_page=True)
            progress(f"wrote {path}")
            taken.append(path)
    return taken


# --- the benchmark --------------------------------------------------------------------------------


@dataclass
class Measurement:
    overview_ms: list[float]
    console_mib: float
    platform_mib: float
    trace_ms: list[float]
    logs_s: list[float]


def _console_mib(home: Path) -> float:
    supervisor = Supervisor(home)
    pid = supervisor.pid("console")
    if not pid:
        raise BenchError("the console is not running under the platform's supervisor: `make up` first")
    return pss_bytes(tree(pid)) / 2**20


def _platform_mib(home: Path) -> float:
    total, _ = Supervisor(home).memory()
    return total / 2**20


def _span(trace_id: str, index: int, parent: str | None, start_ns: int, duration_ns: int) -> dict:
    span = {
        "traceId": trace_id,
        "spanId": f"{index + 1:016x}",
        "name": f"GET /bench/{index}" if parent is None or index % 3 == 0 else f"step {index}",
        "kind": 2 if index % 3 == 0 else 3,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + duration_ns),
        "attributes": [{"key": "bench.index", "value": {"intValue": str(index)}}],
        "status": {"code": 2 if index == TRACE_SPANS - 1 else 1},
    }
    if parent:
        span["parentSpanId"] = parent
    return span


def write_trace(trace_dir: Path, spans: int = TRACE_SPANS) -> str:
    """One trace of ``spans`` spans across five services, nested five deep; returns its id."""
    trace_id = secrets.token_hex(16)
    services = ["api-gateway", "llm-orchestrator", "mcp-server", "airtable-gateway", "platform-services"]
    start = time.time_ns() - 10**9
    by_service: dict[str, list[dict]] = {name: [] for name in services}
    for index in range(spans):
        depth = index % 5
        # span ids are index + 1: a nested span's parent is the one before it, a depth-0 one the root's
        parent = None if index == 0 else f"{(index if depth else 1):016x}"
        offset = index * 2_000_000
        service = services[depth]
        by_service[service].append(
            _span(trace_id, index, parent, start + offset, 50_000_000 - depth * 5_000_000)
        )
    trace_dir.mkdir(parents=True, exist_ok=True)
    with (trace_dir / "bench-console.jsonl").open("ab") as out:
        for service, service_spans in by_service.items():
            resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
            batch = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": service_spans}]}]}
            out.write(orjson.dumps(batch) + b"\n")
    return trace_id


@contextlib.contextmanager
def _own_console(home: Path, port: int) -> Iterator[str]:
    """A console of its own over ``home`` (a million log lines and one big trace), not the platform's."""
    env = os.environ | {"AIRSCOPE_HOME": str(home), "AIRSCOPE_PORT_CONSOLE": str(port)}
    command = [sys.executable, "-m", "uvicorn", "--factory", "airscope.console.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health/live", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(
                    f"a console over {home} did not start: {process.stderr.read().decode()[-2000:]}"
                )
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(progress: Callable[[str], None] = print, load_seconds: float = 40.0) -> Measurement:
    """Every figure of the goals, on the running platform (``make up``) and a console of its own."""
    base = console_url()
    home = paths.home()
    platform_mib = _platform_mib(home)
    progress(f"platform at idle: {platform_mib:.0f} MiB (PSS)")
    overview = next(board for board in dashboards() if board["uid"] == OVERVIEW)
    failure: list[BaseException] = []

    def send() -> None:
        try:
            load.send(load.default_gateway(), api_key.api_key(), NORMAL_RPS, load_seconds)
        except BaseException as e:  # reported after the measurement
            failure.append(e)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    time.sleep(min(10.0, load_seconds / 4))  # the load running, and scraped once
    overview_ms = []
    with browser() as chromium:
        for _ in range(RUNS):
            page = chromium.new_page(viewport=VIEWPORT)
            overview_ms.append(open_dashboard(page, base, overview))
            page.close()
        console_mib = _console_mib(home)
        progress(f"Overview drawn in {statistics.median(overview_ms):.0f} ms; console {console_mib:.0f} MiB")
        sender.join()
        if failure:
            raise BenchError(f"`airscope load` failed during the benchmark: {failure[0]}")

        with tempfile.TemporaryDirectory(prefix="airscope-bench-console-") as tmp:
            own = Path(tmp)
            progress(f"writing {LOG_LINES:,} log lines and a {TRACE_SPANS}-span trace in {own}")
            (own / "log").mkdir()
            bench_logs.write_lines(own / "log", LOG_LINES)
            trace_id = write_trace(own / "traces")
            trace_ms, logs_s = [], []
            with _own_console(own, _free_port()) as url:
                for _ in range(RUNS):
                    page = chromium.new_page(viewport=VIEWPORT)
                    page.goto(f"{url}/explore?trace={trace_id}")
                    page.wait_for_function(TRACE_DRAWN, arg=TRACE_SPANS, timeout=DRAW_TIMEOUT_MS)
                    trace_ms.append(float(page.evaluate("() => performance.now()")))
                    page.close()
                    page = chromium.new_page(viewport=VIEWPORT)
                    page.goto(f"{url}/explore?tab=logs&level=error&since=24h")
                    page.wait_for_function(LOGS_DRAWN, timeout=DRAW_TIMEOUT_MS)
                    logs_s.append(float(page.evaluate("() => performance.now()")) / 1000)
                    page.close()
            shutil.rmtree(own / "log", ignore_errors=True)
    return Measurement(overview_ms, console_mib, platform_mib, trace_ms, logs_s)


def render(measured: Measurement) -> str:
    """The figures beside their goals."""
    rows = [
        (
            "Overview dashboard fully drawn, under normal load",
            statistics.median(measured.overview_ms),
            "ms",
            "overview_ms",
        ),
        ("the console's memory (PSS)", measured.console_mib, "MiB", "console_mib"),
        ("the whole platform's memory at idle (PSS)", measured.platform_mib, "MiB", "platform_mib"),
        (f"a trace of {TRACE_SPANS} spans drawn", statistics.median(measured.trace_ms), "ms", "trace_ms"),
        (
            f"a log search over {LOG_LINES:,} lines, in the page",
            statistics.median(measured.logs_s),
            "s",
            "logs_s",
        ),
    ]
    width = max(len(row[0]) for row in rows)
    lines = [f"{'goal':<{width}}  {'measured':>10}  {'at most':>10}  met"]
    for name, value, unit, key in rows:
        goal = GOALS[key]
        shown = f"{value:.2f} {unit}" if unit == "s" else f"{value:.0f} {unit}"
        bound = f"{goal:g} {unit}"
        lines.append(f"{name:<{width}}  {shown:>10}  {bound:>10}  {'yes' if value <= goal else 'NO'}")
    lines.append(f"medians of {RUNS} runs; Debian's chromium, headless")
    return "\n".join(lines)
