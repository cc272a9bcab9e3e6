"""Grafana's generated datasources and dashboards: deterministic, loadable by grafana-foundation-sdk,
every catalog service in them, and the dashboards check catching what would break in Grafana."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from airscope import catalog
from airscope.stack import grafana, settings
from airscope.stack.checks import dashboards as dashboards_check
from airscope.stack.grafana import datasources
from airscope.stack.grafana.dashboards import logs, overview, panels, service
from airscope.telemetry import SAMPLE_RATIO

UIDS = (
    "airscope-overview",
    "airscope-service",
    "airscope-slo",
    "airscope-logs",
    "airscope-llm",
    "airscope-mcp",
    "airscope-airtable",
    "airscope-users",
    "airscope-automation",
    "airscope-sagas",
    "airscope-frontend",
)


def board(files: dict[str, str], uid: str) -> dict:
    return json.loads(files[grafana.dashboard_path(uid)])


def panels_of(dashboard: dict) -> list[dict]:
    return [panel for panel in grafana.walk_panels(dashboard) if panel["type"] != "row"]


def variable(dashboard: dict, name: str) -> dict:
    (found,) = [v for v in dashboard["templating"]["list"] if v["name"] == name]
    return found


@pytest.fixture
def root(tmp_path) -> Path:
    """A checkout holding the generated Grafana files."""
    for relative, content in grafana.generate(catalog.load()).items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return tmp_path


def edit_dashboard(root: Path, uid: str, change) -> None:
    path = root / grafana.dashboard_path(uid)
    dashboard = json.loads(path.read_text())
    change(dashboard)
    path.write_text(json.dumps(dashboard))


def test_generation_is_deterministic_and_writes_every_dashboard():
    first = grafana.generate(catalog.load())
    assert first == grafana.generate(catalog.load())
    assert {grafana.dashboard_path(uid) for uid in UIDS} < set(first)
    assert {datasources.PATH, "deploy/grafana/provisioning/dashboards/dashboards.yml"} < set(first)


@pytest.mark.parametrize("uid", UIDS)
def test_each_dashboard_round_trips_through_the_sdk_model(uid):
    register_default_plugins()
    written = board(grafana.generate(catalog.load()), uid)
    decoded = Dashboard.from_json(written)
    assert decoded.uid == uid
    assert json.loads(JSONEncoder().encode(decoded)) == written


def test_every_query_has_a_ref_id_and_a_provisioned_datasource():
    files = grafana.generate(catalog.load())
    for uid in UIDS:
        for panel in panels_of(board(files, uid)):
            assert panel["datasource"]["uid"] in {*settings.DATASOURCE_UIDS.values(), "${datasource}"}, (
                uid,
                panel["title"],
            )
            refs = [target["refId"] for target in panel["targets"]]
            assert refs == [chr(ord("A") + i) for i in range(len(refs))], (uid, panel["title"])


def test_the_check_passes_on_generated_files(root):
    assert dashboards_check.check(root) == []


def test_the_check_reports_a_panel_on_an_unknown_datasource(root):
    def break_datasource(dashboard):
        panels_of(dashboard)[0]["datasource"]["uid"] = "graphite"

    edit_dashboard(root, service.UID, break_datasource)
    problems = dashboards_check.check(root)
    assert len(problems) == 1
    assert "airscope-service.json" in problems[0] and "'graphite'" in problems[0]


def test_the_check_reports_a_query_without_ref_id(root):
    def drop_ref_id(dashboard):
        del panels_of(dashboard)[0]["targets"][0]["refId"]

    edit_dashboard(root, overview.UID, drop_ref_id)
    problems = dashboards_check.check(root)
    assert any("airscope-overview.json" in p and "targets[0] has no refId" in p for p in problems), problems


def test_the_check_reports_a_key_the_sdk_model_drops(root):
    def misspell(dashboard):
        dashboard["panels"][1]["fieldconfig"] = {}

    edit_dashboard(root, logs.UID, misspell)
    problems = dashboards_check.check(root)
    assert problems == [
        "deploy/grafana/dashboards/airscope-logs.json: does not round-trip through grafana-foundation-sdk: "
        ".panels[1].fieldconfig is dropped"
    ]


def test_the_check_reports_a_duplicate_uid_and_a_log_label_loki_lacks(root):
    copy = root / grafana.dashboard_path("copy")
    copy.write_text((root / grafana.dashboard_path(logs.UID)).read_text())

    def select_by_app(dashboard):
        panels_of(dashboard)[0]["targets"][0]["expr"] = 'sum(count_over_time({app="x"}[1m]))'

    edit_dashboard(root, logs.UID, select_by_app)
    problems = "\n".join(dashboards_check.check(root))
    assert "uid 'airscope-logs' is also the uid of deploy/grafana/dashboards/airscope-logs.json" in problems
    assert "copy.json: uid 'airscope-logs' differs from the file name" in problems
    assert "LogQL selects label 'app'" in problems


def test_the_check_reports_a_datasource_link_to_a_missing_uid(root):
    path = root / datasources.PATH
    document = yaml.safe_load(path.read_text())
    document["datasources"] = [d for d in document["datasources"] if d["uid"] != "jaeger"]
    (tempo,) = [d for d in document["datasources"] if d["uid"] == "tempo"]
    tempo["jsonData"]["tracesToLogsV2"]["datasourceUid"] = "elasticsearch"
    path.write_text(yaml.safe_dump(document))
    assert dashboards_check.check(root) == [
        f"{datasources.PATH}: datasources has no datasource with uid 'jaeger'",
        f"{datasources.PATH}: datasource 'tempo' jsonData.tracesToLogsV2.datasourceUid 'elasticsearch' "
        "is not a provisioned uid",
    ]


def test_datasources_link_metrics_logs_and_traces():
    document = yaml.safe_load(grafana.generate(catalog.load())[datasources.PATH])
    by_uid = {d["uid"]: d for d in document["datasources"]}
    assert set(by_uid) == set(settings.DATASOURCE_UIDS.values())
    assert [uid for uid, d in by_uid.items() if d["isDefault"]] == ["prometheus"]
    assert by_uid["mimir"]["url"] == "http://mimir:9009/prometheus"
    for uid in ("prometheus", "mimir"):
        assert by_uid[uid]["jsonData"]["exemplarTraceIdDestinations"][0] == {
            "name": "trace_id",
            "datasourceUid": "tempo",
            "urlDisplayLabel": "Trace in Tempo",
        }
    (derived,) = by_uid["loki"]["jsonData"]["derivedFields"]
    # `$$` is provisioning's escape: Grafana would otherwise expand ${__value.raw} as an env variable.
    # Keyed on what Alloy sets for kept traces only (tests/stack/test_alloy_logs.py).
    assert derived == {
        "name": "sampled_trace_id",
        "matcherType": "label",
        "matcherRegex": "sampled_trace_id",
        "datasourceUid": "tempo",
        "url": "$${__value.raw}",
        "urlDisplayLabel": "Trace in Tempo",
    }
    tempo = by_uid["tempo"]["jsonData"]
    assert tempo["tracesToLogsV2"]["filterByTraceID"] is True
    assert tempo["tracesToLogsV2"]["tags"] == [{"key": "service.name", "value": "service"}]
    assert tempo["serviceMap"] == {"datasourceUid": "prometheus"}
    assert all("$$__tags" in q["query"] for q in tempo["tracesToMetrics"]["queries"])
    assert by_uid["jaeger"]["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert by_uid["alertmanager"]["jsonData"]["implementation"] == "prometheus"


def test_promql_expressions_are_the_prometheus_queries_with_variables_left_in():
    files = grafana.generate(catalog.load())
    found = grafana.promql_expressions(files)
    exprs = [expr for _, expr in found]
    assert f'{settings.ROUTE_REQUESTS_RATE}{{service="$service"}}' in exprs
    assert any("$__rate_interval" in expr for expr in exprs)
    assert not any("count_over_time" in expr for expr in exprs)  # LogQL stays out
    assert all(where.startswith("deploy/grafana/dashboards/airscope-") for where, _ in found)


def test_a_ninth_service_gets_an_overview_panel_and_a_place_in_the_service_variable(ninth_service):
    files = grafana.generate(catalog.load())
    (panel,) = [
        p for p in panels_of(board(files, overview.UID)) if p["title"].startswith(f"{ninth_service} ")
    ]
    assert panel["links"][0]["url"] == f"/d/{service.UID}?var-service={ninth_service}"
    assert f'{settings.SERVICE_UP}{{service="{ninth_service}"}}' in [t["expr"] for t in panel["targets"]]
    names = [*catalog.load().services]
    assert ninth_service in names
    choice = variable(board(files, service.UID), "service")
    assert [option["value"] for option in choice["options"]] == names
    assert choice["query"].split(",") == names
    assert ninth_service in variable(board(files, logs.UID), "service")["query"].split(",")


# --- the long-term store ----------------------------------------------------------------------------


def metrics_panels(dashboard: dict) -> list[dict]:
    return [p for p in panels_of(dashboard) if p["datasource"]["type"] == "prometheus"]


def test_every_metrics_panel_reads_the_store_the_dashboard_chooses_prometheus_first_mimir_offered():
    files = grafana.generate(catalog.load())
    provisioned = {d["uid"]: d for d in yaml.safe_load(files[datasources.PATH])["datasources"]}
    for uid in UIDS:
        dashboard = board(files, uid)
        if not metrics_panels(dashboard):
            # Logs: a choice of metrics store would change nothing there.
            assert panels.DATASOURCE_VARIABLE not in [v["name"] for v in dashboard["templating"]["list"]]
            continue
        choice = dashboard["templating"]["list"][0]
        assert choice["name"] == panels.DATASOURCE_VARIABLE and choice["type"] == "datasource", uid
        # Grafana lists every provisioned datasource of that plugin type: both stores.
        assert {d["uid"] for d in provisioned.values() if d["type"] == choice["query"]} == {
            "prometheus",
            "mimir",
        }
        assert choice["current"] == {"text": "Prometheus", "value": settings.DATASOURCE_UIDS["prometheus"]}
        assert {p["datasource"]["uid"] for p in metrics_panels(dashboard)} == {"${datasource}"}, uid


def test_a_dashboard_built_on_the_shared_builders_gets_the_choice_for_free():
    built = json.loads(
        panels.encode(
            panels.board("new", "New", "A new one.").with_panel(panels.stat_panel("Up", [panels.prom("up")]))
        )
    )
    assert [v["name"] for v in built["templating"]["list"]] == [panels.DATASOURCE_VARIABLE]
    assert built["panels"][0]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def long_term_problems(root: Path) -> list[str]:
    return [p for p in dashboards_check.check(root) if "Mimir" in p or "pinned" in p or "defaults" in p]


def test_the_check_reports_a_dashboard_without_the_choice_of_store(root):
    def drop_choice(dashboard):
        dashboard["templating"]["list"] = [
            v for v in dashboard["templating"]["list"] if v["name"] != panels.DATASOURCE_VARIABLE
        ]

    edit_dashboard(root, service.UID, drop_choice)
    problems = dashboards_check.check(root)
    assert problems[0] == (
        "deploy/grafana/dashboards/airscope-service.json: has Prometheus queries but no datasource variable "
        "offering Mimir (type datasource, query 'prometheus'; panels.board() adds one)"
    )
    # And each panel naming the variable that is gone.
    assert problems[1].endswith("datasource '${datasource}' names no datasource variable of this dashboard")
    assert len(problems) == 1 + len(
        metrics_panels(json.loads((root / grafana.dashboard_path(service.UID)).read_text()))
    )


def test_the_check_reports_a_panel_pinned_to_prometheus(root):
    def pin(dashboard):
        metrics_panels(dashboard)[0]["datasource"]["uid"] = settings.DATASOURCE_UIDS["prometheus"]

    edit_dashboard(root, overview.UID, pin)
    (problem,) = dashboards_check.check(root)
    assert problem.startswith("deploy/grafana/dashboards/airscope-overview.json: panel ")
    assert problem.endswith(
        f"pinned to datasource uid 'prometheus', so it shows nothing past {settings.PROMETHEUS_RETENTION_TIME}; "
        "read ${datasource} (panels.source('prometheus') does)"
    )


def test_a_panel_pinned_to_mimir_reaches_the_long_term_store(root):
    def pin(dashboard):
        metrics_panels(dashboard)[0]["datasource"]["uid"] = settings.DATASOURCE_UIDS["mimir"]

    edit_dashboard(root, overview.UID, pin)
    assert dashboards_check.check(root) == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"regex": "/^Prometheus$/"}, "its regex leaves Mimir out"),
        ({"regex": "/^mimir$/"}, "Grafana's regex is case-sensitive without the i flag"),
        ({"hide": 2}, "hidden, no one can choose Mimir"),
        ({"query": "loki"}, "offers Loki datasources"),
    ],
)
def test_the_check_reports_a_choice_that_does_not_offer_mimir(root, change, why):
    def narrow(dashboard):
        variable(dashboard, panels.DATASOURCE_VARIABLE).update(change)

    edit_dashboard(root, service.UID, narrow)
    problems = dashboards_check.check(root)
    assert problems, why
    assert problems[0].endswith("panels.board() adds one)"), why
    assert "reads ${datasource}, which does not offer Mimir" in problems[1], why


def test_a_regex_that_keeps_mimir_passes(root):
    edit_dashboard(root, service.UID, lambda d: variable(d, "datasource").update({"regex": "/prom|MIMIR/i"}))
    assert dashboards_check.check(root) == []


def test_the_check_reports_a_choice_defaulting_to_an_unknown_store(root):
    edit_dashboard(
        root,
        service.UID,
        lambda d: variable(d, "datasource").update({"current": {"text": "Thanos", "value": "thanos"}}),
    )
    assert dashboards_check.check(root) == [
        "deploy/grafana/dashboards/airscope-service.json: variable 'datasource' defaults to 'thanos', "
        "not a provisioned uid"
    ]


def test_the_service_map_says_what_it_counts():
    (panel,) = [
        p
        for p in panels_of(board(grafana.generate(catalog.load()), overview.UID))
        if p["type"] == "nodeGraph"
    ]
    assert SAMPLE_RATIO in panel["description"] and "1/ratio" in panel["description"]


def test_the_check_reports_mimir_gone_from_the_provisioned_datasources(root):
    path = root / datasources.PATH
    document = yaml.safe_load(path.read_text())
    document["datasources"] = [d for d in document["datasources"] if d["uid"] != "mimir"]
    path.write_text(yaml.safe_dump(document))
    # Once, at its cause: not again on every dashboard that can no longer reach it.
    assert dashboards_check.check(root) == [
        f"{datasources.PATH}: datasources has no datasource with uid 'mimir'"
    ]
