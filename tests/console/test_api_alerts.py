"""The console's alerting API over fake Prometheus and Alertmanager servers (httpx MockTransport):
alerts with silenced flags and runbook links, the receiver's notifications, silences listed, made
and expired with the API key, bad input refused with a message and nothing changed, runbooks."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from airscope import promapi
from airscope.console import api_alerts
from airscope.console.app import create_app
from airscope.console.settings import ConsoleConfig
from tests.support import free_port, wait_until

KEY = "test-key-0123456789"
PROM = "http://prometheus.test"
AM = "http://alertmanager.test"


class FakeBackends:
    """Prometheus' /api/v1/alerts and Alertmanager's v2 alerts and silences, as far as the console calls them."""

    def __init__(self) -> None:
        self.up = True
        self.prom_alerts = [
            {
                "labels": {"alertname": "HighErrorRate", "service": "api-gateway", "severity": "critical"},
                "annotations": {"summary": "5xx above 5%"},
                "state": "firing",
                "activeAt": "2024-05-01T10:00:00.123456789Z",
                "value": "1.2e-01",
            },
            {
                "labels": {"alertname": "NoRunbookAlert", "service": "x"},
                "annotations": {},
                "state": "pending",
                "activeAt": "2024-05-01T10:01:00Z",
                "value": "NaN",
            },
        ]
        self.silences: dict[str, dict] = {}

    def _am_alerts(self) -> list[dict]:
        out = []
        for alert in self.prom_alerts:
            if alert["state"] != "firing":
                continue
            labels = {**alert["labels"], "cluster": "local"}  # Prometheus' external labels
            silenced_by = [
                sid
                for sid, s in self.silences.items()
                if s["status"]["state"] == "active"
                and all(
                    labels.get(m["name"]) == m["value"]
                    for m in s["matchers"]
                    if m["isEqual"] and not m["isRegex"]
                )
            ]
            out.append(
                {
                    "labels": labels,
                    "status": {"state": "suppressed" if silenced_by else "active", "silencedBy": silenced_by},
                }
            )
        return out

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        path, method = request.url.path, request.method
        if request.url.host == "prometheus.test" and path == "/api/v1/alerts":
            return httpx.Response(200, json={"status": "success", "data": {"alerts": self.prom_alerts}})
        if request.url.host == "alertmanager.test":
            if path == "/api/v2/alerts":
                return httpx.Response(200, json=self._am_alerts())
            if path == "/api/v2/silences" and method == "GET":
                return httpx.Response(200, json=list(self.silences.values()))
            if path == "/api/v2/silences" and method == "POST":
                body = json.loads(request.content)
                sid = str(uuid.uuid4())
                self.silences[sid] = {
                    **body,
                    "id": sid,
                    "status": {"state": "active"},
                    "updatedAt": body["startsAt"],
                }
                return httpx.Response(200, json={"silenceID": sid})
            if path.startswith("/api/v2/silence/") and method == "DELETE":
                sid = path.rsplit("/", 1)[1]
                if sid not in self.silences:
                    return httpx.Response(404, text="silence not found")
                self.silences[sid]["status"]["state"] = "expired"
                return httpx.Response(200)
        return httpx.Response(404, text="not found")


@pytest.fixture
def fake() -> FakeBackends:
    return FakeBackends()


@pytest.fixture
def config(tmp_path: Path) -> ConsoleConfig:
    runbooks = tmp_path / "docs" / "runbooks"
    runbooks.mkdir(parents=True)
    (runbooks / "HighErrorRate.md").write_text(
        "# HighErrorRate\n\n## First checks\n\n"
        "See [ServiceDown](ServiceDown.md), [its checks](ServiceDown.md#first-checks), "
        "[alerting](../alerting.md), [this](#first-checks), [web](https://example.org/x).\n\n"
        "<script>alert(1)</script>\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n"
        "Open `/d/airscope-service?var-service=<service>&from=now-1h` or [`/explore`](https://example.org/e).\n"
    )
    (runbooks / "ServiceDown.md").write_text("# ServiceDown\n\nNo answer.\n")
    return ConsoleConfig(
        home=tmp_path / "home",
        prometheus_url=PROM,
        alertmanager_url=AM,
        notifications_file=tmp_path / "home" / "alerts" / "notifications.jsonl",
        log_dir=tmp_path / "logs",
        trace_dir=tmp_path / "traces",
        dashboards_dir=tmp_path / "dashboards",
        runbooks_dir=runbooks,
    )


@pytest.fixture
def client(config: ConsoleConfig, fake: FakeBackends, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("AIRSCOPE_API_KEY", KEY)
    app = create_app(config)
    transport = httpx.MockTransport(fake.handle)
    app.dependency_overrides[api_alerts.backends] = lambda: api_alerts.open_backends(PROM, AM, transport)
    return TestClient(app)


def _silence(client: TestClient, key: str | None = KEY, **body) -> httpx.Response:
    payload = {
        "matchers": [{"name": "alertname", "value": "HighErrorRate", "isRegex": False, "isEqual": True}],
        "duration": "2h",
        "comment": "deploying a fix",
        "createdBy": "ops",
        **body,
    }
    headers = {"X-API-Key": key} if key is not None else {}
    return client.post("/api/silences", json=payload, headers=headers)


def test_alerts_firing_first_with_runbook_value_and_times(client: TestClient) -> None:
    body = client.get("/api/alerts").json()
    assert body["errors"] == []
    first, second = body["alerts"]
    assert first["name"] == "HighErrorRate" and first["state"] == "firing"
    assert first["runbook"] == "/runbooks/HighErrorRate"
    assert first["value"] == pytest.approx(0.12)
    assert first["activeAt"] == 1714557600123
    assert first["silenced"] is False
    assert second["name"] == "NoRunbookAlert" and second["runbook"] is None and second["value"] is None


def test_notifications_newest_first(client: TestClient, config: ConsoleConfig) -> None:
    config.notifications_file.parent.mkdir(parents=True)
    lines = [
        {
            "received_at": f"2024-05-01T10:0{i}:00.000+00:00",
            "receiver": "platform-team-pager",
            "notification": {
                "status": "firing" if i == 0 else "resolved",
                "alerts": [{"status": "firing", "labels": {"alertname": "HighErrorRate", "service": "a"}}],
            },
        }
        for i in range(2)
    ]
    config.notifications_file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    notes = client.get("/api/alerts").json()["notifications"]
    assert [n["status"] for n in notes] == ["resolved", "firing"]
    assert notes[1] == {
        "receivedMs": 1714557600000,
        "receiver": "platform-team-pager",
        "status": "firing",
        "alerts": [
            {
                "name": "HighErrorRate",
                "labels": {"alertname": "HighErrorRate", "service": "a"},
                "status": "firing",
            }
        ],
    }


def test_backends_down_are_named(client: TestClient, fake: FakeBackends) -> None:
    fake.up = False
    body = client.get("/api/alerts").json()
    assert body["alerts"] == []
    assert any("Prometheus at http://prometheus.test" in e for e in body["errors"])
    answer = client.get("/api/silences")
    assert answer.status_code == 503
    assert "Alertmanager at http://alertmanager.test" in answer.json()["message"]


def test_silence_made_listed_marks_the_alert_and_expires(client: TestClient) -> None:
    assert client.get("/api/silences").json() == {"silences": []}
    made = _silence(client)
    assert made.status_code == 200, made.text
    sid = made.json()["silenceID"]
    (silence,) = client.get("/api/silences").json()["silences"]
    assert silence["id"] == sid and silence["state"] == "active"
    assert silence["matchers"] == [
        {"name": "alertname", "value": "HighErrorRate", "isRegex": False, "isEqual": True}
    ]
    assert silence["comment"] == "deploying a fix" and silence["createdBy"] == "ops"
    assert silence["endsMs"] - silence["startsMs"] == pytest.approx(2 * 3600 * 1000, abs=1000)
    assert client.get("/api/alerts").json()["alerts"][0]["silenced"] is True

    assert client.delete(f"/api/silences/{sid}").status_code == 401
    expired = client.delete(f"/api/silences/{sid}", headers={"X-API-Key": KEY})
    assert expired.json() == {"expired": sid}
    assert client.get("/api/silences").json()["silences"][0]["state"] == "expired"
    assert client.get("/api/alerts").json()["alerts"][0]["silenced"] is False


def test_regex_and_negative_matchers_pass_through(client: TestClient, fake: FakeBackends) -> None:
    matchers = [
        {"name": "service", "value": "api-.*", "isRegex": True, "isEqual": True},
        {"name": "severity", "value": "info", "isRegex": False, "isEqual": False},
    ]
    assert _silence(client, matchers=matchers).status_code == 200
    (kept,) = fake.silences.values()
    assert kept["matchers"] == matchers


@pytest.mark.parametrize(
    ("key", "status", "says"),
    [(None, 401, "no API key"), ("wrong", 401, "a wrong API key"), ("", 401, "no API key")],
)
def test_silence_needs_the_key(client: TestClient, fake: FakeBackends, key, status, says) -> None:
    answer = _silence(client, key=key)
    assert answer.status_code == status
    assert says in answer.json()["message"] and KEY not in answer.json()["message"]
    assert fake.silences == {}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"matchers": []}, "at least one matcher"),
        ({"matchers": None}, "at least one matcher"),
        ({"matchers": [{"name": "1bad", "value": "x"}]}, "not a label name"),
        ({"matchers": [{"name": "service", "value": "(", "isRegex": True}]}, "not a regular expression"),
        ({"matchers": [{"name": "service", "value": ""}]}, "mute every alert"),
        ({"matchers": [{"name": "service", "value": ".*", "isRegex": True}]}, "mute every alert"),
        ({"duration": "soon"}, "not a duration"),
        ({"duration": "0s"}, "not a positive duration"),
        ({"duration": None}, "not a duration"),
        ({"comment": "  "}, "needs a comment"),
        ({"comment": None}, "needs a comment"),
    ],
)
def test_bad_silences_are_refused_and_change_nothing(
    client: TestClient, fake: FakeBackends, body, says
) -> None:
    answer = _silence(client, **body)
    assert answer.status_code == 400
    assert says in answer.json()["message"]
    assert fake.silences == {}


def test_body_not_json(client: TestClient, fake: FakeBackends) -> None:
    answer = client.post("/api/silences", content=b"{", headers={"X-API-Key": KEY})
    assert answer.status_code == 400 and "not JSON" in answer.json()["message"]


def test_expire_unknown_or_bad_id(client: TestClient) -> None:
    headers = {"X-API-Key": KEY}
    assert client.delete(f"/api/silences/{uuid.uuid4()}", headers=headers).status_code == 404
    assert client.delete("/api/silences/..%2Fx", headers=headers).status_code in (400, 404)


def test_no_key_configured_is_a_503_that_says_how(client: TestClient, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("AIRSCOPE_API_KEY")
    monkeypatch.setenv("AIRSCOPE_HOME", str(tmp_path / "nowhere"))
    answer = _silence(client)
    assert answer.status_code == 503 and "make up" in answer.json()["message"]


def test_runbook_rendered_with_console_links(client: TestClient) -> None:
    page = client.get("/api/runbooks/HighErrorRate").json()
    assert page["name"] == "HighErrorRate" and page["title"] == "HighErrorRate"
    html = page["html"]
    assert '<h2 id="first-checks">' in html
    assert 'href="/runbooks/ServiceDown"' in html
    assert 'href="/runbooks/ServiceDown#first-checks"' in html
    assert 'href="#first-checks"' in html
    assert 'href="https://example.org/x"' in html
    assert "/docs/alerting.md" in html and "../alerting.md" not in html
    assert "<script>" not in html and "<table>" in html
    assert (
        '<a href="/d/airscope-service?from=now-1h"><code>/d/airscope-service?var-service=&lt;service&gt;'
        in html
    )
    assert (
        '<a href="https://example.org/e" rel="noopener"><code>/explore</code></a>' in html
    )  # no link in a link


def test_unknown_runbook_lists_the_known(client: TestClient) -> None:
    for name in ("Nope", "a.b", "HighErrorRate.md"):
        answer = client.get(f"/api/runbooks/{name}")
        assert answer.status_code == 404
        assert "HighErrorRate, ServiceDown" in answer.json()["message"]
    assert client.get("/api/runbooks/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_real_runbooks_render() -> None:
    runbooks = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
    for source in runbooks.glob("*.md"):
        page = api_alerts.render_runbook(runbooks, source.stem)
        assert page and page["html"].startswith("<h1")
        assert 'href="HighErrorRate.md"' not in page["html"]


@pytest.fixture(scope="module")
def real_alertmanager(tmp_path_factory) -> Iterator[str]:
    """Debian's Alertmanager, to prove the v2 silence payloads (regex and negative matchers) it accepts."""
    if not shutil.which("prometheus-alertmanager"):
        pytest.skip("Debian's prometheus-alertmanager is not installed")
    tmp = tmp_path_factory.mktemp("alertmanager")
    port = free_port()
    (tmp / "am.yml").write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    with (tmp / "alertmanager.log").open("wb") as log:
        process = subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={tmp / 'am.yml'}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        with promapi.Alertmanager(url) as probe:
            wait_until(probe.ready, 30, message="Alertmanager ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_silences_against_a_real_alertmanager(
    config: ConsoleConfig, real_alertmanager: str, monkeypatch
) -> None:
    monkeypatch.setenv("AIRSCOPE_API_KEY", KEY)
    client = TestClient(create_app(replace(config, alertmanager_url=real_alertmanager)))
    matchers = [
        {"name": "alertname", "value": "HighErrorRate", "isRegex": False, "isEqual": True},
        {"name": "service", "value": "api-.*", "isRegex": True, "isEqual": True},
        {"name": "severity", "value": "info", "isRegex": False, "isEqual": False},
    ]
    made = _silence(client, matchers=matchers, duration="30m")
    assert made.status_code == 200, made.text
    sid = made.json()["silenceID"]
    (silence,) = [s for s in client.get("/api/silences").json()["silences"] if s["id"] == sid]
    assert silence["state"] == "active" and silence["matchers"] == matchers
    assert silence["endsMs"] - silence["startsMs"] == pytest.approx(30 * 60 * 1000, abs=2000)
    headers = {"X-API-Key": KEY}
    assert client.delete(f"/api/silences/{sid}", headers=headers).json() == {"expired": sid}
    (silence,) = [s for s in client.get("/api/silences").json()["silences"] if s["id"] == sid]
    assert silence["state"] == "expired"
    unknown = client.delete(f"/api/silences/{uuid.uuid4()}", headers=headers)
    assert unknown.status_code == 404, unknown.text
    # Prometheus is not there: the alert list says so and still answers.
    body = client.get("/api/alerts").json()
    assert body["alerts"] == [] and "Prometheus" in body["errors"][0]
