"""The generated Prometheus configs, rules and Alertmanager configs: shape, the catalog in them, and the
checks that validate them. The rules' behaviour is proven in test_alert_rules.py."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from airscope import catalog, checkout, stack
from airscope.cli import main
from airscope.stack import alertmanager, prometheus, rules, settings
from airscope.stack.checks import promql, tools


def load(files: dict[str, str], path: str) -> dict:
    return yaml.safe_load(files[path])


def job(config: dict, name: str) -> dict:
    (found,) = [j for j in config["scrape_configs"] if j["job_name"] == name]
    return found


def test_generation_is_deterministic():
    assert stack.generate() == stack.generate()


def test_compose_discovers_labelled_containers_and_writes_to_mimir():
    config = load(stack.generate(), prometheus.COMPOSE_PATH)
    services = job(config, settings.SERVICES_JOB)
    (docker,) = services["docker_sd_configs"]
    assert docker["filters"] == [{"name": "label", "values": ["airscope.scrape=true"]}]
    relabel = {tuple(r.get("source_labels", ())): r for r in services["relabel_configs"]}
    assert relabel[("__meta_docker_container_label_airscope_service",)]["target_label"] == "service"
    assert config["remote_write"][0]["url"] == "http://mimir:9009/api/v1/push"
    assert config["global"]["scrape_interval"] == "15s"


def test_local_profile_finds_every_target_through_file_sd():
    config = load(stack.generate(), prometheus.LOCAL_PATH)
    assert config["global"]["scrape_interval"] == "5s"
    for scrape in config["scrape_configs"]:
        assert "static_configs" not in scrape, scrape["job_name"]
        assert scrape["file_sd_configs"][0]["files"] == [f"targets/{scrape['job_name']}.json"]
    assert "cadvisor" not in {j["job_name"] for j in config["scrape_configs"]}


def test_a_ninth_service_is_probed_alerted_on_and_inhibited_with_no_other_edit(ninth_service):
    files = stack.generate()
    compose = load(files, prometheus.COMPOSE_PATH)
    probes = job(compose, settings.BLACKBOX_JOB)["static_configs"]
    assert {
        "targets": ["http://billing-service:7109/health/live"],
        "labels": {"service": ninth_service},
    } in probes

    recorded = load(files, rules.RECORDING_PATH)["groups"]
    constants = {
        (r["record"], r["labels"]["service"]): r["expr"]
        for g in recorded
        for r in g["rules"]
        if "service" in r.get("labels", {})
    }
    assert constants[(settings.slo_objective("availability"), ninth_service)] == "vector(0.999)"
    assert constants[(settings.LATENCY_THRESHOLD, ninth_service)] == "vector(0.25)"
    assert constants[(settings.MEMORY_LIMIT, ninth_service)] == f"vector({300 * 1024 * 1024})"

    alerts = load(files, rules.ALERTS_PATH)["groups"][0]["rules"]
    service_down = next(a for a in alerts if a["alert"] == "ServiceDown")
    assert f'service="{ninth_service}"' in service_down["expr"]

    inhibit = load(files, alertmanager.COMPOSE_PATH)["inhibit_rules"]
    database = next(r for r in inhibit if 'alertname="DatabaseConnectionFailure"' in r["source_matchers"])
    assert ninth_service in database["target_matchers"][1]


def test_every_alert_carries_severity_summary_description_and_its_runbook():
    alerts = load(stack.generate(), rules.ALERTS_PATH)["groups"][0]["rules"]
    names = {a["alert"] for a in alerts}
    assert names >= {
        "ServiceDown",
        "HighErrorRate",
        "HighLatency",
        "DatabaseConnectionFailure",
        "RedisConnectionFailure",
        "DiskSpaceLow",
        "HighMemoryUsage",
        "ErrorBudgetBurn",
        "LatencyBudgetBurn",
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in {"critical", "warning"}, alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]
        assert alert["annotations"]["runbook_url"].endswith(f"/docs/runbooks/{alert['alert']}.md")


def test_each_team_has_a_pager_for_critical_alerts_and_a_chat_and_receivers_hold_no_secret():
    config = load(stack.generate(), alertmanager.COMPOSE_PATH)
    _watchdog, *teams = config["route"]["routes"]  # the Watchdog's: tests/stack/test_meta_monitoring.py
    assert config["route"]["receiver"] == "infra-chat"  # no known owner
    assert [route["matchers"] for route in teams] == [[f'owner="{team}"'] for team in catalog.load().teams]
    ai_team = teams[list(catalog.load().teams).index("ai-team")]
    pager, chat = ai_team["routes"]
    assert (pager["receiver"], pager["matchers"], pager["continue"]) == (
        "ai-team-pager",
        ['severity="critical"'],
        True,
    )
    assert (chat["receiver"], chat["matchers"]) == ("ai-team-chat", ['severity=~"critical|warning"'])
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["ai-team-pager"]["pagerduty_configs"][0]["routing_key_file"] == (
        "/run/secrets/pagerduty_routing_key_ai-team"
    )
    (slack,) = receivers["ai-team-chat"]["slack_configs"]
    assert (slack["api_url_file"], slack["channel"]) == (
        "/run/secrets/slack_webhook_url_ai-team",
        "#ai-alerts",
    )
    assert "email_configs" not in receivers["ai-team-chat"]  # the team has no address
    assert "global" not in config  # nor has any other: no mail relay


def test_local_receivers_are_webhooks_to_the_url_local_mode_gives():
    text = alertmanager.render(catalog.load(), settings.LOCAL, receiver_url="http://127.0.0.1:9555/hook")
    urls = [r["webhook_configs"][0]["url"] for r in yaml.safe_load(text)["receivers"]]
    assert urls[:3] == [
        "http://127.0.0.1:9555/hook/deadmansswitch",
        "http://127.0.0.1:9555/hook/platform-team-pager",
        "http://127.0.0.1:9555/hook/platform-team-chat",
    ]
    assert len(urls) == 1 + 2 * len(catalog.load().teams)


def test_the_generated_stack_passes_promtool_amtool_and_the_promql_check(deployed):
    assert tools.check(deployed) == []
    assert promql.check(deployed) == []


def test_the_promql_check_names_a_broken_expression_and_an_unknown_metric(deployed):
    path = deployed / rules.ALERTS_PATH
    text = path.read_text()
    text = text.replace("service:http_server_errors:ratio_rate5m > 0.05", "sum(rate(nope[5m])")
    text = text.replace("node_memory_MemTotal_bytes", "node_memory_MemTotl_bytes")
    path.write_text(text)
    problems = promql.check(deployed)
    assert any("HighErrorRate" in p and "does not parse" in p for p in problems), problems
    assert any("HighMemoryUsage" in p and "'node_memory_MemTotl_bytes'" in p for p in problems), problems


def test_the_tools_check_reports_promtools_complaint(deployed):
    path = deployed / rules.RECORDING_PATH
    path.write_text(
        path.read_text().replace("groups:", "groups:\n- name: broken\n  rules:\n  - record: x\n", 1)
    )
    problems = tools.check(deployed)
    assert problems[0].startswith(f"{tools.RULES_DIR}: promtool check rules failed")
    assert "record: x" in problems[0] or "expr" in problems[0], problems[0]


def test_airscope_check_exits_non_zero_and_names_the_problem(deployed, monkeypatch):
    from airscope.stack import checks

    monkeypatch.setattr(checkout, "root", lambda: deployed)
    monkeypatch.setattr(checks, "CHECKS", (("promql", "PromQL"),))
    assert CliRunner().invoke(main, ["check"]).exit_code == 0
    path = deployed / rules.ALERTS_PATH
    path.write_text(path.read_text().replace("node_memory_MemTotal_bytes", "node_memory_MemTotl_bytes"))
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert "node_memory_MemTotl_bytes" in result.output
