"""docs/adding-a-service.md, done: the guide's catalog entry for the sample service (tests/gen/sample_service)
added to a copy of the catalog, `airscope gen` run into a temporary checkout, and every file the guide
names checked for the service; then `make up`'s plan for it, and the app itself answering."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from airscope import catalog, gen
from airscope import checkout as checkout_module
from airscope.catalog import Catalog
from airscope.cli import main
from airscope.local import observability, ports, runner
from airscope.stack import compose, prometheus, rules, settings
from airscope.stack.grafana import dashboard_path, walk_panels
from tests.servers import scrape, value

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "adding-a-service.md"
ENTRY_MARKER = "<!-- the catalog entry tests/gen/test_adding_a_service.py adds -->"
NAME = "sample-service"
MODULE = "tests.gen.sample_service"


def guide_entry() -> dict:
    """The YAML block that follows the marker in the guide."""
    after = GUIDE.read_text().split(ENTRY_MARKER, 1)[1]
    return yaml.safe_load(after.split("```yaml\n", 1)[1].split("```", 1)[0])


@pytest.fixture(scope="module")
def sample_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    data = yaml.safe_load(catalog.DEFAULT_PATH.read_text())
    entry = guide_entry()
    assert list(entry) == [NAME] and NAME not in data["services"]
    data["services"].update(entry)
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(catalog.CATALOG_ENV, str(path))
        yield catalog.load()


@pytest.fixture(scope="module")
def checkout(sample_catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary checkout `airscope gen` wrote every generated file into."""
    root = tmp_path_factory.mktemp("checkout")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkout_module, "root", lambda: root)
        result = CliRunner().invoke(main, ["gen"])
    assert result.exit_code == 0, result.output
    yield root


def read_yaml(root: Path, path: str) -> dict:
    return yaml.safe_load((root / path).read_text())


def read_json(root: Path, path: str) -> dict:
    return json.loads((root / path).read_text())


def test_the_catalog_takes_the_guides_entry(sample_catalog: Catalog):
    service = sample_catalog.service(NAME)
    assert (service.port, service.module, service.tier, service.owner) == (7010, MODULE, 3, "web-team")
    assert service.exists()
    order = [s.name for s in sample_catalog.start_order()]
    assert order.index("platform-services") < order.index(NAME)


def test_the_committed_files_know_nothing_of_it():
    # What the next tests find comes from the temporary catalog, not from the checkout.
    assert NAME not in (ROOT / compose.PATH).read_text()
    assert NAME not in (ROOT / rules.RECORDING_PATH).read_text()


def test_prometheus_probes_its_liveness(checkout: Path):
    config = read_yaml(checkout, prometheus.COMPOSE_PATH)
    (blackbox,) = [job for job in config["scrape_configs"] if job["job_name"] == settings.BLACKBOX_JOB]
    assert {"targets": [f"http://{NAME}:7010/health/live"], "labels": {"service": NAME}} in blackbox[
        "static_configs"
    ]


def test_the_recording_rules_hold_its_slo_and_limits(checkout: Path):
    groups = {g["name"]: g["rules"] for g in read_yaml(checkout, rules.RECORDING_PATH)["groups"]}
    constants = {
        rule["record"]: rule["expr"]
        for rule in groups["airscope-catalog"]
        if rule["labels"] == {"service": NAME}
    }
    assert constants == {
        settings.slo_objective("availability"): "vector(0.99)",
        settings.slo_objective("latency"): "vector(0.95)",
        settings.LATENCY_THRESHOLD: "vector(0.25)",
        # No high_latency_seconds yet: HighLatency compares the p95 to the SLO's threshold.
        settings.HIGH_LATENCY_THRESHOLD: "vector(0.25)",
        settings.MEMORY_LIMIT: f"vector({128 * 1024 * 1024})",
    }
    latency_slis = [
        rule["expr"]
        for rule in groups["airscope-slo"]
        if rule["record"] == settings.slo_errors_ratio("latency", "5m")
        and rule["labels"] == {"service": NAME}
    ]
    assert len(latency_slis) == 1 and 'le="0.25"' in latency_slis[0]


@pytest.mark.parametrize("path", [rules.ALERTS_PATH, rules.LOCAL_ALERTS_PATH])
def test_service_down_fires_even_when_it_has_no_target(checkout: Path, path: str):
    alerts = [rule for group in read_yaml(checkout, path)["groups"] for rule in group["rules"]]
    (service_down,) = [rule for rule in alerts if rule.get("alert") == "ServiceDown"]
    assert f'absent(up{{job="{settings.SERVICES_JOB}", service="{NAME}"}})' in service_down["expr"]


@pytest.mark.parametrize("uid", ["airscope-service", "airscope-logs"])
def test_the_dashboards_offer_it_as_a_service(checkout: Path, uid: str):
    board = read_json(checkout, dashboard_path(uid))
    (variable,) = [v for v in board["templating"]["list"] if v["name"] == "service"]
    assert NAME in [option["value"] for option in variable["options"]]


def test_the_overview_has_its_panel_in_its_tier(checkout: Path):
    board = read_json(checkout, dashboard_path("airscope-overview"))
    panels = list(walk_panels(board))
    titles = [panel["title"] for panel in panels]
    assert "Tier 3 services" in titles
    (panel,) = [p for p in panels if p["title"] == f"{NAME} (tier 3, web-team)"]
    assert titles.index("Tier 3 services") < titles.index(panel["title"])
    assert all(f'service="{NAME}"' in target["expr"] for target in panel["targets"])
    assert panel["links"][0]["url"] == f"/d/airscope-service?var-service={NAME}"


def test_compose_runs_it_and_tells_the_others_where_it_is(checkout: Path):
    services = read_yaml(checkout, compose.PATH)["services"]
    sample = services[NAME]
    assert sample["command"][:3] == ["uvicorn", "--factory", f"{MODULE}:create_app"]
    assert sample["command"][-1] == "7010"
    assert sample["labels"] == {
        settings.SCRAPE_LABEL: "true",
        settings.SERVICE_LABEL: NAME,
        settings.METRICS_PORT_LABEL: "7010",
    }
    assert sample["mem_limit"] == "128m"
    assert "platform-services" in sample["depends_on"]
    assert "/health/live" in sample["healthcheck"]["test"][-1]
    assert "ports" not in sample  # only the gateway, the frontend and Grafana are published
    assert services["api-gateway"]["environment"]["AIRSCOPE_URL_SAMPLE_SERVICE"] == f"http://{NAME}:7010"


def test_the_references_list_its_metrics_and_variables(checkout: Path):
    metrics = (checkout / "docs" / "metrics.md").read_text()
    assert f"## {NAME}\n" in metrics
    assert (
        "| `sample_greetings_total` | counter | `outcome` | Greetings answered, by outcome (ok, refused). |"
        in metrics
    )
    reference = (checkout / "docs" / "reference.md").read_text()
    assert f"### {NAME}\n" in reference
    assert (
        "| `SAMPLE_GREETING` | text | `hello` |  | `Config.greeting` | What the service says before each name. |"
        in (reference)
    )
    assert "| `AIRSCOPE_URL_PLATFORM_SERVICES` | URL | `http://127.0.0.1:7007` |" in reference


def test_every_file_the_guide_names_is_generated(sample_catalog: Catalog):
    first_cells = [line.split("|")[1] for line in GUIDE.read_text().splitlines() if line.startswith("| `")]
    named = {path for cell in first_cells for path in re.findall(r"`([^`]+/[^`]+)`", cell)}
    assert len(named) >= 8
    assert named <= set(gen.generated())


def test_make_up_starts_it_and_prometheus_finds_it(sample_catalog: Catalog, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AIRSCOPE_HOME", str(tmp_path))
    # The catalog's ports, as a plain `make up` uses them (the e2e platform moves every one).
    for variable in [name for name in os.environ if name.startswith(ports.env_var(""))]:
        monkeypatch.delenv(variable)
    plat = runner.platform()
    assert NAME in [service.name for service in plat.present]
    instances = runner.load_instances(plat)
    assert instances[NAME] == {NAME: 7010}
    env = plat.service_env(sample_catalog.service(NAME), NAME, 7010)
    assert env["AIRSCOPE_URL_PLATFORM_SERVICES"] == "http://127.0.0.1:7007"

    observability.write_targets(tmp_path, instances, plat.observability_ports)
    targets = json.loads((observability.targets_dir(tmp_path) / f"{settings.SERVICES_JOB}.json").read_text())
    assert {"targets": ["127.0.0.1:7010"], "labels": {"service": NAME, "instance": NAME}} in targets


def test_the_app_serves_its_routes_red_metrics_and_health(run_app, free_port):
    # platform-services is not running: the non-critical check warns, the service stays ready.
    app = run_app(MODULE, env={"AIRSCOPE_URL_PLATFORM_SERVICES": f"http://127.0.0.1:{free_port()}"})
    assert httpx.get(f"{app.url}/greetings/ada").json() == {"greeting": "hello, ada"}
    refused = httpx.get(f"{app.url}/greetings/{'x' * 41}")
    assert refused.status_code == 422 and refused.json()["error"] == "name_too_long"

    samples = scrape(app.url)
    route = {"method": "GET", "route": "/greetings/{name}"}
    assert value(samples, "http_server_request_duration_seconds_count", **route, status="200") == 1
    assert value(samples, "http_server_request_duration_seconds_count", **route, status="422") == 1
    assert value(samples, "sample_greetings_total", outcome="ok") == 1
    assert value(samples, "sample_greetings_total", outcome="refused") == 1

    health = httpx.get(f"{app.url}/health")
    assert health.status_code == 200
    assert health.json()["status"] == "warn"
    assert "platform-services:responseTime" in health.json()["checks"]
    assert httpx.get(f"{app.url}/health/ready").status_code == 200
