import pytest
import yaml

from airscope import catalog
from airscope.catalog import INFRA_TEAM, CatalogError, load, parse

INTERFACE_PORTS = {
    "api-gateway": 7000,
    "mcp-server": 7001,
    "airtable-gateway": 7002,
    "llm-orchestrator": 7003,
    "automation-services": 7006,
    "platform-services": 7007,
    "saga-orchestrator": 7008,
    "frontend": 5173,
}


def test_the_project_catalog_lists_the_eight_services_on_their_interface_ports():
    loaded = catalog.load()
    assert {name: s.port for name, s in loaded.services.items()} == INTERFACE_PORTS
    assert set(loaded.infrastructure) == {"postgres", "redis"}
    assert all(s.module.startswith("airscope.services.") for s in loaded.services.values())


def test_the_outside_saas_have_stand_ins_on_their_interface_ports():
    external = catalog.load().external
    assert {name: e.standin.port for name, e in external.items()} == {"airtable": 7090, "llm": 7091}
    assert external["llm"].url_env == "LLM_BASE_URL"
    assert external["llm"].standin.path == "/v1"
    assert all(e.standin.module.startswith("airscope.standins.") for e in external.values())


def test_start_order_puts_every_callee_before_its_caller():
    order = [s.name for s in catalog.load().start_order()]
    assert sorted(order) == sorted(INTERFACE_PORTS)
    for service in catalog.load().services.values():
        for callee in service.calls:
            assert order.index(callee) < order.index(service.name)


def test_catalog_env_var_points_at_another_file(tmp_path, monkeypatch):
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"services": {"sample": {"port": 7100, "module": "sample_pkg"}}}))
    monkeypatch.setenv("AIRSCOPE_CATALOG", str(path))
    loaded = catalog.load()
    assert list(loaded.services) == ["sample"]
    assert not loaded.service("sample").exists()
    with pytest.raises(KeyError, match="known: sample"):
        loaded.service("nope")


WINDOW = {"times": "02:00-04:00", "reason": "upgrades"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "top-level 'services'"),
        ({"services": {"a": {"port": 1}}}, "service 'a': needs 'module'"),
        ({"services": {"a": {"module": "m"}}}, "service 'a': needs 'port'"),
        (
            {"services": {"a": {"port": 0, "module": "m"}}},
            "service 'a': 'port' must be an integer from 1 to 65535, got 0",
        ),
        (
            {"services": {"a": {"port": "80", "module": "m"}}},
            "'port' must be an integer from 1 to 65535, got '80'",
        ),
        (
            {"services": {"a": {"port": 1, "module": "m", "tier": 4}}},
            r"service 'a': 'tier' must be one of \(1, 2, 3\)",
        ),
        (
            {"services": {"a": {"port": 1, "module": "m", "slo": {"availability": 0.3}}}},
            r"service 'a': 'slo.availability' must be a fraction in \[0.5, 1\), got 0.3",
        ),
        (
            {"services": {"a": {"port": 1, "module": "m", "slo": {"latency_seconds": 0.3}}}},
            "'slo.latency_seconds' must be a latency bucket",
        ),
        (
            {"services": {"a": {"port": 1, "module": "m", "memory_limit": 16}}},
            "'memory_limit' must be whole MiB",
        ),
        (
            {"defaults": {"tier": 0}, "services": {"a": {"port": 1, "module": "m"}}},
            "service 'a': 'tier' must be one of",  # a catalog default is checked where it applies
        ),
        (
            {"services": {"a": {"port": 1, "module": "m", "calls": ["b"]}}},
            "calls 'b', which is not a service",
        ),
        ({"services": {"a": {"port": 1, "module": "m", "requires": ["redis"]}}}, "requires 'redis'"),
        ({"services": {"a": {"port": 1, "module": "m"}, "b": {"port": 1, "module": "n"}}}, "both use port 1"),
        ({"services": {}, "infrastructure": {"mysql": {"port": 3306}}}, "unknown kind"),
        (
            {"services": {"a": {"port": 1, "module": "m", "high_latency_seconds": 0.3}}},
            "'high_latency_seconds' must be a latency bucket",
        ),
        (
            {"services": {"a": {"port": 1, "module": "m", "external": ["crm"]}}},
            "reaches 'crm', which is not in 'external'",
        ),
        ({"services": {}, "external": {"crm": {"url_env": "CRM_URL"}}}, "external 'crm': needs 'key_env'"),
        (
            {
                "services": {},
                "external": {
                    "crm": {
                        "url_env": "U",
                        "key_env": "K",
                        "standin": {"port": 1, "module": "s", "env": {"A": 1}},
                    }
                },
            },
            "external 'crm': 'standin.env' must map variable names to strings",
        ),
        (
            {
                "services": {"a": {"port": 7090, "module": "m"}},
                "external": {
                    "crm": {"url_env": "U", "key_env": "K", "standin": {"port": 7090, "module": "s"}}
                },
            },
            "both use port 7090",
        ),
        (
            {
                "services": {
                    "a": {"port": 1, "module": "m", "calls": ["b"]},
                    "b": {"port": 2, "module": "n", "calls": ["a"]},
                }
            },
            "cycle",
        ),
        (
            {"services": {}, "teams": {"web": {"channel": "#web", "escalation": "Web", "ack_minutes": 5}}},
            "needs a team 'infra'",
        ),
        (
            {"services": {"a": {"port": 1, "module": "m", "owner": "nobody"}}},
            "service 'a' is owned by 'nobody', which is not a team",
        ),
        (
            {"services": {}, "teams": {"infra": {"channel": "infra", "escalation": "I", "ack_minutes": 5}}},
            "team 'infra': 'channel' must be a #channel",
        ),
        (
            {"services": {}, "maintenance": {"w": {"teams": ["ops"], "weekdays": ["sunday"], **WINDOW}}},
            "maintenance 'w' mutes 'ops', which is not a team",
        ),
        (
            {"services": {}, "maintenance": {"w": {"teams": ["infra"], "weekdays": ["sun"], **WINDOW}}},
            "maintenance 'w': 'weekdays' must be weekdays or ranges",
        ),
        (
            {
                "services": {},
                "maintenance": {
                    "w": {"teams": ["infra"], "weekdays": ["sunday"], **WINDOW, "times": "23:00-01:00"}
                },
            },
            "a window over midnight is two windows",
        ),
    ],
)
def test_malformed_catalogs_are_refused_with_the_entry_named(document, message):
    with pytest.raises(CatalogError, match=message):
        parse(document)


def test_start_order_keeps_catalog_order_among_services_that_may_start_together():
    loaded = parse(
        {
            "services": {
                "gateway": {"port": 1, "module": "m", "calls": ["backend", "auth"]},
                "backend": {"port": 2, "module": "m", "calls": ["auth"]},
                "auth": {"port": 3, "module": "m"},
                "batch": {"port": 4, "module": "m"},
            }
        }
    )
    assert [s.name for s in loaded.start_order()] == ["auth", "batch", "backend", "gateway"]


def test_a_cycle_is_named_in_call_order():
    with pytest.raises(CatalogError, match=r"dependency cycle in the catalog: (a -> b -> a|b -> a -> b)"):
        parse(
            {
                "services": {
                    "a": {"port": 1, "module": "m", "calls": ["b"]},
                    "b": {"port": 2, "module": "n", "calls": ["a"]},
                }
            }
        )


def test_a_missing_catalog_file_names_the_variable(tmp_path):
    with pytest.raises(CatalogError, match="AIRSCOPE_CATALOG"):
        catalog.load(tmp_path / "absent.yaml")


def test_high_latency_threshold_is_the_measured_one_else_the_slos():
    catalog = parse(
        {
            "services": {
                "measured": {"port": 1, "module": "m", "high_latency_seconds": 2.5},
                "unmeasured": {"port": 2, "module": "n", "slo": {"latency_seconds": 0.75}},
            }
        }
    )
    assert catalog.services["measured"].alert_latency_seconds == 2.5
    assert catalog.services["unmeasured"].alert_latency_seconds == 0.75


def test_every_service_is_owned_by_a_team_and_infra_owns_the_rest():
    loaded = load()
    assert {service.owner for service in loaded.services.values()} <= set(loaded.teams)
    assert INFRA_TEAM in loaded.teams
    (window,) = loaded.maintenance.values()
    assert window.teams == (INFRA_TEAM,) and window.weekdays == ("sunday",)


def test_a_catalog_without_teams_gets_the_default_owner_and_infra():
    loaded = parse({"services": {"a": {"port": 1, "module": "m"}}})
    assert set(loaded.teams) == {"platform-team", INFRA_TEAM}
    assert loaded.owner("a").name == "platform-team"
