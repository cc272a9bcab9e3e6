"""Pyroscope in the generated stack: its config, its container, the services pointed at it, Prometheus
watching it and Grafana reading it (from a trace's root span too). Pyroscope cannot run here: these
are the static checks, and the config is checked against the keys of the pinned release."""

from __future__ import annotations

import pytest
import yaml

from airscope import catalog
from airscope.stack import compose, prometheus, pyroscope, rules_meta, settings
from airscope.stack.checks import backends
from airscope.stack.checks import dashboards as dashboards_check
from airscope.stack.grafana import datasources
from airscope.telemetry._settings import PYROSCOPE_URL


@pytest.fixture
def checkout(deployed):
    return deployed


def _edit(root, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text()
    assert old in text, f"{old!r} is not in {path}: the test no longer corrupts anything"
    file.write_text(text.replace(old, new))


def _problems(root) -> list[str]:
    return [p for p in backends.check(root) if p.startswith(pyroscope.PATH)]


def test_the_config_is_monolithic_v2_on_the_volume_with_the_settings_retention():
    config = yaml.safe_load(pyroscope.generate(catalog.load())[pyroscope.PATH])
    assert config["target"] == "all" and config["architecture_storage"] == "v2"
    assert config["server"]["http_listen_port"] == settings.PORTS["pyroscope"] == 4040
    assert config["storage"] == {"backend": "filesystem", "filesystem": {"dir": "/data/v2/shared"}}
    assert config["limits"]["retention_period"] == settings.PROFILE_RETENTION
    assert config["self_profiling"] == {"disable_push": True}


def test_the_check_passes_on_the_generated_config(checkout):
    assert _problems(checkout) == []


def test_a_misspelt_key_and_a_localhost_listener_are_reported(checkout):
    _edit(checkout, pyroscope.PATH, "retention_period:", "retention_periode:")
    _edit(checkout, pyroscope.PATH, "http_listen_address: ''", "http_listen_address: 127.0.0.1")
    problems = _problems(checkout)
    assert any("`limits.retention_periode` is not a documented Pyroscope 2.x key" in p for p in problems)
    assert any("`limits.retention_period` is not set" in p for p in problems)
    assert any("`server.http_listen_address` must be empty or 0.0.0.0" in p for p in problems)


def test_data_off_the_volume_and_the_v1_layout_are_reported(checkout):
    _edit(checkout, pyroscope.PATH, "dir: /data/v2/metastore/raft", "dir: ./raft")
    _edit(checkout, pyroscope.PATH, "architecture_storage: v2", "architecture_storage: v1")
    problems = _problems(checkout)
    assert any("`metastore.raft.dir` is './raft'" in p for p in problems)
    assert any("`architecture_storage` is 'v1'" in p for p in problems)


def test_the_container_is_pinned_confined_probed_and_keeps_its_data():
    document = compose.compose(catalog.load())
    spec = document["services"]["pyroscope"]
    assert spec["image"] == settings.IMAGES["pyroscope"] == "grafana/pyroscope:2.2.1"
    assert spec["user"] == "10001:10001" and spec["read_only"] is True and spec["cap_drop"] == ["ALL"]
    assert spec["command"] == ["-config.file=/etc/pyroscope/pyroscope.yml"]
    assert f"pyroscope-data:{pyroscope.DATA_DIR}" in spec["volumes"]
    assert spec["healthcheck"]["test"] == ["CMD", "/usr/bin/profilecli", "ready"]
    assert "ports" not in spec  # Grafana reads it inside the network
    assert "pyroscope" in document["services"]["grafana"]["depends_on"]


def test_every_service_pushes_to_it_and_none_waits_for_it():
    document = compose.compose(catalog.load())
    for name in catalog.load().services:
        spec = document["services"][name]
        assert spec["environment"][PYROSCOPE_URL] == "http://pyroscope:4040"
        # A profiling outage never keeps a service from starting.
        assert "pyroscope" not in (spec.get("depends_on") or {})


def test_prometheus_scrapes_it_and_target_down_says_what_is_lost():
    jobs = {job["job_name"]: job for job in prometheus.compose(catalog.load())["scrape_configs"]}
    assert jobs["pyroscope"]["static_configs"] == [{"targets": ["pyroscope:4040"]}]
    assert "pyroscope" in rules_meta.target_jobs(catalog.load(), settings.COMPOSE)
    assert "no CPU profile is stored" in rules_meta.BLINDS["pyroscope"]
    # Local mode has no Pyroscope: nothing to scrape there.
    assert "pyroscope" not in rules_meta.target_jobs(catalog.load(), settings.LOCAL)


def test_grafana_reads_it_and_links_a_root_span_to_its_profile():
    by_uid = {d["uid"]: d for d in datasources.datasources()}
    source = by_uid[settings.DATASOURCE_UIDS["pyroscope"]]
    assert source["type"] == "grafana-pyroscope-datasource"
    assert source["url"] == "http://pyroscope:4040"
    assert by_uid["tempo"]["jsonData"]["tracesToProfiles"] == {
        "datasourceUid": "pyroscope",
        "profileTypeId": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
        "tags": [{"key": "service.name", "value": "service_name"}],
        "customQuery": False,
    }


def test_the_check_reports_a_profiles_link_to_a_missing_datasource(checkout):
    path = checkout / datasources.PATH
    document = yaml.safe_load(path.read_text())
    document["datasources"] = [d for d in document["datasources"] if d["uid"] != "pyroscope"]
    path.write_text(yaml.safe_dump(document))
    problems = dashboards_check.check(checkout)
    assert f"{datasources.PATH}: datasources has no datasource with uid 'pyroscope'" in problems
    assert (
        f"{datasources.PATH}: datasource 'tempo' jsonData.tracesToProfiles.datasourceUid 'pyroscope' "
        "is not a provisioned uid"
    ) in problems
