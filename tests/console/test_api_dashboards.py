"""The dashboards' API (search, one dashboard, a panel's queries, Explore's PromQL box) on the real
generated dashboards, with a fake Prometheus behind it and the Loki and Tempo runners' dispatch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from airscope.console.app import create_app
from airscope.console.settings import ConsoleConfig
from tests.console.fake_prometheus import FakePrometheus, matrix, vector

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"


@pytest.fixture
def fake() -> FakePrometheus:
    return FakePrometheus()


@pytest.fixture
def config(tmp_path: Path, fake: FakePrometheus) -> ConsoleConfig:
    dashboards = tmp_path / "dashboards"
    shutil.copytree(DASHBOARDS, dashboards)
    for name in ("logs", "traces"):
        (tmp_path / name).mkdir()
    return ConsoleConfig(
        home=tmp_path,
        prometheus_url="http://prometheus.test",
        alertmanager_url="http://alertmanager.test",
        notifications_file=tmp_path / "notifications.jsonl",
        log_dir=tmp_path / "logs",
        trace_dir=tmp_path / "traces",
        dashboards_dir=dashboards,
        runbooks_dir=tmp_path / "runbooks",
        scrape_interval="5s",
        transport=fake.transport,
    )


@pytest.fixture
def client(config: ConsoleConfig) -> TestClient:
    return TestClient(create_app(config))


def test_search_lists_every_dashboard_by_title(client):
    found = client.get("/api/search").json()
    files = {json.loads(p.read_text())["uid"] for p in DASHBOARDS.glob("*.json")}
    assert {d["uid"] for d in found} == files
    assert [d["title"] for d in found] == sorted((d["title"] for d in found), key=str.lower)
    overview = next(d for d in found if d["uid"] == "airscope-overview")
    assert overview == {
        "uid": "airscope-overview",
        "title": "airscope / Overview",
        "tags": ["airscope", "overview"],
        "url": "/d/airscope-overview/airscope-overview",
        "panels": 10,  # rows are not panels
    }
    assert [d["uid"] for d in client.get("/api/search", params={"query": "serv"}).json()] == [
        "airscope-service"
    ]
    assert [d["uid"] for d in client.get("/api/search", params={"tag": "logs"}).json()] == ["airscope-logs"]


def test_one_dashboard_is_its_file_with_the_metrics_stores_grafana_would_offer(client):
    answer = client.get("/api/dashboards/uid/airscope-service").json()
    file = json.loads((DASHBOARDS / "airscope-service.json").read_text())
    choice = file["templating"]["list"][0]
    assert choice["type"] == "datasource" and "options" not in choice
    # As Grafana does on load, the provisioned Prometheus-type datasources become the options; local
    # mode has no Mimir, so it is there to see, not to choose.
    choice["options"] = [
        {"text": "Prometheus", "value": "prometheus"},
        {"text": "Mimir (production only)", "value": "mimir", "disabled": True},
    ]
    assert answer["dashboard"] == file
    assert answer["meta"] == {"slug": "airscope-service", "url": "/d/airscope-service/airscope-service"}
    logs = client.get("/api/dashboards/uid/airscope-logs").json()["dashboard"]
    assert logs == json.loads((DASHBOARDS / "airscope-logs.json").read_text())


def test_metrics_panels_read_the_local_prometheus_and_say_mimir_is_production_only(client, fake):
    board = json.loads((DASHBOARDS / "airscope-service.json").read_text())
    (up,) = [p for p in board["panels"] if p.get("title") == "Up"]

    def ask(datasource: str | None) -> dict:
        variables = {"service": "api-gateway", **({"datasource": datasource} if datasource else {})}
        body = {"dashboard": "airscope-service", "panelId": up["id"], "variables": variables}
        return client.post("/api/ds/query", json=body).json()["results"]["A"]

    default, local = ask(None), ask("prometheus")
    assert default == local and default["kind"] not in ("unsupported", "error"), default
    assert fake.requests, "the local Prometheus was asked"
    mimir = ask("mimir")
    assert mimir["kind"] == "unsupported"
    assert mimir["message"].startswith("production only: needs Mimir, which the local console does not have")
    assert "choose Prometheus" in mimir["message"]
    assert ask("thanos") == {
        "kind": "error",
        "message": "datasource 'thanos' is not one production provisions: choose Prometheus",
    }


def test_an_unknown_uid_is_a_404_naming_the_known_ones(client):
    answer = client.get("/api/dashboards/uid/nope")
    assert answer.status_code == 404
    assert answer.json()["message"].startswith("no dashboard with uid nope: the dashboards in ")
    assert "airscope-overview" in answer.json()["message"]
    query = client.post("/api/ds/query", json={"dashboard": "nope", "panelId": 1})
    assert query.status_code == 404 and "no dashboard with uid nope" in query.json()["message"]
    panel = client.post("/api/ds/query", json={"dashboard": "airscope-service", "panelId": 999})
    assert panel.status_code == 404 and "has no panel 999" in panel.json()["message"]


def test_a_changed_file_shows_at_the_next_request(client, config):
    path = config.dashboards_dir / "airscope-users.json"
    data = json.loads(path.read_text())
    data["title"] = "airscope / People"
    path.write_text(json.dumps(data))
    assert "airscope / People" in [d["title"] for d in client.get("/api/search").json()]


def test_panel_query_runs_the_files_targets_with_variables(client, fake):
    # Service dashboard, "Requests/s by status" (id 12): $service and $__rate_interval interpolated.
    expr = (
        'sum by (status) (rate(http_server_request_duration_seconds_count{job="services", '
        'service="frontend"}[20s]))'
    )
    fake.on("/api/v1/query_range", expr, matrix(({"status": "200"}, [(1_800_000_000, 2)])))
    body = {
        "dashboard": "airscope-service",
        "panelId": 12,
        "from": "now-1h",
        "to": "now",
        "variables": {"service": ["frontend"]},
        "maxDataPoints": 600,
    }
    answer = client.post("/api/ds/query", json=body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["interval"] == "5s"
    frame = result["results"]["A"]
    assert frame["kind"] == "series" and frame["expr"] == expr and frame["step"] == 5.0
    assert frame["series"] == [
        {"name": "200", "labels": {"status": "200"}, "points": [[1_800_000_000_000, 2.0]]}
    ]


def test_stat_panel_runs_every_instant_target(client, fake):
    # Overview's api-gateway stat panel: seven instant targets, answered by refId.
    fake.on("/api/v1/query", 'service:up:max{service="api-gateway"}', vector(({"service": "api-gateway"}, 1)))
    answer = client.post("/api/ds/query", json={"dashboard": "airscope-overview", "panelId": 4}).json()
    assert sorted(answer["results"]) == list("ABCDEFG")
    up = answer["results"]["A"]
    assert (
        up["kind"] == "series" and up["series"][0]["name"] == "up" and up["series"][0]["points"][0][1] == 1.0
    )
    assert answer["results"]["B"]["series"] == []
    assert len(fake.params("/api/v1/query")) == 7


def test_table_panel_and_the_default_variables(client, fake):
    fake.on(
        "/api/v1/query",
        'ALERTS{alertstate="firing", alertname!="Watchdog"}',
        vector(({"__name__": "ALERTS", "alertname": "HighErrorRate", "alertstate": "firing"}, 1)),
    )
    frame = client.post("/api/ds/query", json={"dashboard": "airscope-overview", "panelId": 2}).json()[
        "results"
    ]["A"]
    assert frame["kind"] == "table" and frame["columns"] == [
        "Time",
        "__name__",
        "alertname",
        "alertstate",
        "Value",
    ]
    # No variables sent: the dashboard's current value (api-gateway).
    client.post("/api/ds/query", json={"dashboard": "airscope-service", "panelId": 2})
    assert fake.params("/api/v1/query")[-1]["query"] == 'service:up:max{service="api-gateway"}'


def test_a_failing_target_is_an_error_frame_and_a_down_prometheus_says_so(client, fake):
    fake.refuse('service:up:max{service="api-gateway"}', "1:1: parse error: boom")
    frame = client.post("/api/ds/query", json={"dashboard": "airscope-service", "panelId": 2}).json()[
        "results"
    ]["A"]
    assert frame == {"kind": "error", "message": "Prometheus: 1:1: parse error: boom"}
    fake.down = True
    frame = client.post("/api/ds/query", json={"dashboard": "airscope-service", "panelId": 3}).json()[
        "results"
    ]["A"]
    assert frame["kind"] == "error"
    assert "Prometheus at http://prometheus.test" in frame["message"] and "make up" in frame["message"]


def test_bad_time_ranges_and_bad_bodies_are_400_messages(client):
    answer = client.post(
        "/api/ds/query", json={"dashboard": "airscope-service", "panelId": 2, "from": "now", "to": "now-1h"}
    )
    assert answer.status_code == 400 and "ends before it starts" in answer.json()["message"]
    answer = client.post("/api/ds/query", json={"dashboard": "airscope-service", "panelId": "x"})
    assert answer.status_code == 400 and answer.json()["message"].startswith("bad request: panelId")


def test_loki_targets_go_to_the_logql_runner(client, monkeypatch, config):
    from airscope.console import logql

    calls = []

    def run(expr, start_ms, end_ms, step_seconds, log_dir, limit, legend_format=None):
        calls.append((expr, end_ms - start_ms, step_seconds, log_dir, limit, legend_format))
        return {"kind": "logs", "lines": [], "query": expr}

    monkeypatch.setattr(logql, "run", run)
    body = {
        "dashboard": "airscope-logs",
        "panelId": 2,
        "variables": {"service": ["api-gateway"]},
        "maxDataPoints": 600,
    }
    frame = client.post("/api/ds/query", json=body).json()["results"]["A"]
    expected = 'sum by (level) (count_over_time({service=~"api-gateway", level=~".*"}[5s]))'
    assert frame == {"kind": "logs", "lines": [], "query": expected}
    assert calls == [(expected, 3_600_000, 5.0, config.log_dir, 1000, "{{level}}")]


def test_tempo_targets_go_to_the_traceql_runner(client, monkeypatch, config):
    from airscope.console import traceql

    calls = []

    def run(target, query, start_ms, end_ms, trace_dir):
        calls.append((target["refId"], query, trace_dir))
        return {"kind": "traces", "traces": [], "query": query}

    monkeypatch.setattr(traceql, "run", run)
    body = {"dashboard": "airscope-service", "panelId": 29, "variables": {"service": "mcp-server"}}
    frame = client.post("/api/ds/query", json=body).json()["results"]["A"]
    assert frame["query"] == '{resource.service.name="mcp-server" && status=error}'
    assert calls == [("A", '{resource.service.name="mcp-server" && status=error}', config.trace_dir)]


def test_a_runner_that_fails_shows_on_its_panel(client, monkeypatch):
    from airscope.console import traceql

    def broken(*args):
        raise KeyError("oops")

    monkeypatch.setattr(traceql, "run", broken)
    frame = client.post("/api/ds/query", json={"dashboard": "airscope-overview", "panelId": 14}).json()[
        "results"
    ]["A"]
    assert frame["kind"] == "error" and "KeyError" in frame["message"]


def test_explore_metrics(client, fake):
    fake.on(
        "/api/v1/query_range", "rate(x[20s])", matrix(({"__name__": "x", "job": "a"}, [(1_800_000_000, 1)]))
    )
    answer = client.post(
        "/api/explore/metrics",
        json={"expr": "rate(x[$__rate_interval])", "from": "now-1h", "to": "now", "maxDataPoints": 600},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["kind"] == "series" and answer.json()["series"][0]["name"] == 'x{job="a"}'
    fake.on("/api/v1/query", "up", vector(({"__name__": "up", "job": "a"}, 1)))
    table = client.post("/api/explore/metrics", json={"expr": "up", "instant": True}).json()
    assert table["kind"] == "table" and table["columns"] == ["Time", "__name__", "job", "Value"]


def test_explore_metrics_bad_input(client, fake):
    fake.refuse("sum(", "1:5: parse error: unclosed left parenthesis")
    answer = client.post("/api/explore/metrics", json={"expr": "sum("})
    assert answer.status_code == 400 and answer.json() == {
        "message": "1:5: parse error: unclosed left parenthesis"
    }
    answer = client.post("/api/explore/metrics", json={"expr": "up", "from": "now", "to": "now-5m"})
    assert answer.status_code == 400 and "ends before it starts" in answer.json()["message"]
    assert client.post("/api/explore/metrics", json={"expr": " "}).status_code == 400
    fake.down = True
    answer = client.post("/api/explore/metrics", json={"expr": "up"})
    assert answer.status_code == 503 and "Prometheus at http://prometheus.test" in answer.json()["message"]


def test_variables_endpoint(client, fake):
    answer = client.get(
        "/api/dashboards/uid/airscope-logs/variables", params=[("var-service", "frontend")]
    ).json()
    service, level = answer["variables"]
    assert service["name"] == "service" and service["current"] == ["frontend"] and service["includeAll"]
    assert level["current"] == ["$__all"] and [o["value"] for o in level["options"]][:2] == ["debug", "info"]


def test_every_panel_of_every_dashboard_answers_a_frame_per_target(client):
    """With the real LogQL and TraceQL runners on empty stores and an empty Prometheus: no panel fails,
    and none needs a production backend (a generated query outside the local LogQL/TraceQL subset
    would show "production only" on its panel: the subset or the generator must grow first)."""
    for path in sorted(DASHBOARDS.glob("*.json")):
        data = json.loads(path.read_text())
        stack = list(data["panels"])
        while stack:
            panel = stack.pop()
            stack.extend(panel.get("panels") or [])
            if panel["type"] == "row":
                continue
            answer = client.post("/api/ds/query", json={"dashboard": data["uid"], "panelId": panel["id"]})
            assert answer.status_code == 200, answer.text
            frames = answer.json()["results"]
            assert sorted(frames) == sorted(t["refId"] for t in panel["targets"]), panel["title"]
            for frame in frames.values():
                assert frame["kind"] not in ("error", "unsupported"), (data["uid"], panel["title"], frame)
