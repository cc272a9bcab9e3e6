"""`airscope slo`, `slo gate` and `slo report` as a user and a pipeline run them: against a real
Prometheus holding the last six hours of known counts, the local one found as the other commands
find it, and a Mimir-like API behind a path that wants a tenant header."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from airscope.cli import main
from airscope.local import ports
from airscope.local.drills import record
from tests.slo.history import History, serving
from tests.support import free_port

MINUTE = 60.0
NOW = (time.time() // MINUTE) * MINUTE
STAMPS = [NOW - MINUTE * k for k in range(6 * 60)]  # the last six hours, newest first


def history() -> History:
    """api-gateway: 100 requests a minute, 2 of them failing a minute in the oldest hour: 120 bad of the
    180 that 36 000 requests allow at 99.5%, a third of the budget left. mcp-server: 10 a minute, none bad."""
    found = History()
    oldest_hour = STAMPS[-60:]
    for service, requests in (("api-gateway", 100), ("mcp-server", 10)):
        labels = {"service": service}
        found.add("service:slo_requests:increase1m", labels, [(t, requests) for t in STAMPS])
        found.add("service:slo_latency_errors:increase1m", labels, [(t, 0) for t in STAMPS])
        bad = 2 if service == "api-gateway" else 0
        found.add(
            "service:slo_availability_errors:increase1m",
            labels,
            [(t, bad if t in oldest_hour else 0) for t in STAMPS],
        )
    return found


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory) -> Iterator[str]:
    with serving(history(), tmp_path_factory.mktemp("slo-cli")) as served:
        yield served.url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["slo", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_the_budgets_fit_80_columns_worst_first(prometheus_url):
    code, output = run("--prometheus", prometheus_url)
    lines = output.splitlines()
    assert code == 0 and max(len(line) for line in lines) <= 80
    assert lines[0] == f"Error budgets over the last 30d, worst first ({prometheus_url})"
    assert lines[3] == "api-gateway" and lines[4].split()[:5] == [
        "availability",
        "99.5%",
        "99.67%",
        "33.3%",
        "1h12m",  # a third of 216 minutes
    ]
    assert "Data covers only 6h of the last 30d" in output
    assert "No requests in the last 30d: airtable-gateway, automation-services, frontend," in output


def test_json_of_one_service(prometheus_url):
    code, output = run("--json", "--service", "api-gateway", "--prometheus", prometheus_url)
    found = json.loads(output)
    assert code == 0 and [(b["service"], b["sli"]) for b in found] == [
        ("api-gateway", "availability"),
        ("api-gateway", "latency"),
    ]
    assert (found[0]["requests"], found[0]["bad_requests"]) == (36000, 120)
    assert found[0]["remaining"] == pytest.approx(1 / 3)


def test_the_gate_exit_codes(prometheus_url):
    code, output = run("gate", "--prometheus", prometheus_url)
    assert code == 0 and output.startswith(
        "slo gate passed: every SLO has at least 25% of its budget left; 1 SLO"
    )
    code, output = run("gate", "--min-budget", "40%", "--prometheus", prometheus_url)
    assert code == 1 and output.startswith("slo gate blocked: 1 SLO under 40% of budget left (api-gateway")
    assert (
        run("gate", "--service", "mcp-server", "--min-budget", "100", "--prometheus", prometheus_url)[0] == 0
    )
    # The group's options reach the subcommand.
    assert (
        run("--prometheus", prometheus_url, "--service", "api-gateway", "gate", "--min-budget", "40%")[0] == 1
    )
    code, output = run("gate", "--service", "frontend", "--prometheus", prometheus_url)
    assert code == 2 and output.startswith("slo gate cannot tell: no SLO had requests in the last 30d")
    code, output = run("gate", "--prometheus", f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "no answer" in output and "--prometheus URL" in output
    code, output = run("gate", "--min-budget", "ten")
    assert code == 2 and "'ten': a percentage such as 25%" in output


def test_the_local_prometheus_by_default_and_its_drills_in_the_report(prometheus_url, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRSCOPE_HOME", str(tmp_path))
    monkeypatch.setenv(ports.env_var("prometheus"), prometheus_url.rsplit(":", 1)[1])
    started = datetime.fromtimestamp(STAMPS[-1], UTC)
    record.append(
        tmp_path,
        record.Entry(
            scenario="error-burst",
            started=started.isoformat(),
            healed=datetime.fromtimestamp(STAMPS[-30], UTC).isoformat(),
            ended=datetime.fromtimestamp(STAMPS[-31], UTC).isoformat(),
            passed=True,
            budget_spent=None,
            budget_until=None,
        ),
    )
    code, output = run("gate")
    assert code == 0
    month = started.strftime("%Y-%m")
    out = tmp_path / "report.json"
    code, output = run("report", "--month", month, "--json", "--out", str(out))
    assert (code, output) == (0, f"wrote {out}\n")
    found = json.loads(out.read_text())
    drills = [e for e in found["episodes"] if e["kind"] == "drill"]
    assert [(e["name"], e["start"]) for e in drills] == [("error-burst", STAMPS[-1])]
    assert drills[0]["spent"]["api-gateway"]["availability"] > 0
    # Another Prometheus than the local one knows nothing of the local drills.
    code, output = run("report", "--month", month, "--json", "--prometheus", prometheus_url)
    assert [e for e in json.loads(output)["episodes"] if e["kind"] == "drill"] == []


def test_the_report_as_markdown(prometheus_url):
    month = datetime.fromtimestamp(NOW, UTC).strftime("%Y-%m")
    code, output = run("report", "--month", month, "--service", "mcp-server", "--prometheus", prometheus_url)
    assert code == 0 and output.startswith(f"# SLO report {month}\n")
    assert "| mcp-server | availability | 99% | 100.000% | yes | 100% | 0 |" in output
    assert "No alert episode and no drill overlapped the month." in output
    code, output = run("report", "--month", "2026-13", "--prometheus", prometheus_url)
    assert code == 1 and "'2026-13' is not a month: write it YYYY-MM" in output


class _MimirLike(BaseHTTPRequestHandler):
    """Prometheus' API under /prometheus, answering every query with no series, noting the headers."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path.split("?")[0], self.headers.get("X-Scope-OrgID")))
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()
        self.send_response(200 if self.path.startswith("/prometheus/api/v1/") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def mimir_like() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MimirLike)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _MimirLike.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/prometheus"
    server.shutdown()
    server.server_close()


def test_a_tenant_of_a_mimir_behind_a_path(mimir_like: str):
    code, output = run("--prometheus", mimir_like, "--tenant", "team-a")
    assert code == 0 and "No SLO had requests in the last 30d" in output
    assert _MimirLike.seen and set(_MimirLike.seen) == {("/prometheus/api/v1/query", "team-a")}


def test_the_help_names_the_document():
    assert "docs/slo.md" in run("--help")[1]
