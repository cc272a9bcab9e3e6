"""The compose file against the defects that kept the stack from starting or collecting: secrets
copied into read-only containers, a fixed address inside Docker's dynamic range, an image known not
to work on Docker Engine 29; and `airscope check` failing on each in a broken copy."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import pytest
import yaml

from airscope import catalog
from airscope.stack import compose, compose_env, jaeger, settings
from airscope.stack.checks import compose as compose_check
from airscope.stack.checks import compose_rules
from tests.stack.test_compose import CHECKOUT, document, generated, rewrite


@pytest.fixture
def checkout(deployed: Path) -> Path:
    for relative, content in generated().items():
        path = deployed / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    shutil.copy(CHECKOUT / compose.DOCKERFILE_PATH, deployed / compose.DOCKERFILE_PATH)
    return deployed


# --- secrets ----------------------------------------------------------------------------------------


def test_alertmanager_reads_its_secrets_from_files_the_operator_writes():
    spec = document()
    assert spec["services"]["alertmanager"]["read_only"] is True
    assert spec["secrets"] == {
        name: {"file": f"./secrets/{name}"}
        for name in (
            *(
                f"{kind}_{team}"
                for team in catalog.load().teams
                for kind in ("pagerduty_routing_key", "slack_webhook_url")
            ),
            "deadmansswitch_url",
        )
    }
    assert spec["services"]["alertmanager"]["secrets"] == list(spec["secrets"])
    assert compose_rules.secrets(spec) == []


def test_the_secret_files_are_ignored_by_git_and_the_readme_says_how_to_write_each():
    files = generated()
    ignore = files[compose_env.SECRETS_GITIGNORE_PATH].splitlines()
    assert [line for line in ignore if not line.startswith("#")] == ["*", "!.gitignore", "!README.md"]
    readme = files[compose_env.SECRETS_README_PATH]
    for name in compose_env.secrets(catalog.load()):
        assert f"> secrets/{name}" in readme
    assert "chmod 700 secrets" in readme
    assert (CHECKOUT / ".dockerignore").read_text().splitlines()[2] == "*"  # never in the image's context


def test_a_secret_from_the_environment_is_refused_naming_the_read_only_service():
    spec = document()
    spec["secrets"]["slack_webhook_url_infra"] = {"environment": "SLACK_WEBHOOK_URL"}
    spec["secrets"]["deadmansswitch_url"] = {"content": "https://example.com"}
    found = compose_rules.secrets(spec)
    assert len(found) == 2, found
    slack, deadman = found
    assert "secrets.slack_webhook_url_infra comes from `environment`, not a file" in slack
    assert "which alertmanager (read_only: true) cannot take" in slack
    assert "'file' is the sole supported option" in slack
    assert slack.endswith("make it a file under deploy/secrets/")
    assert "secrets.deadmansswitch_url comes from `content`" in deadman


# --- addresses ----------------------------------------------------------------------------------------


def test_fixed_addresses_lie_in_the_subnet_outside_the_dynamic_range():
    spec = document()
    (pool,) = spec["networks"]["default"]["ipam"]["config"]
    subnet, dynamic = ipaddress.ip_network(pool["subnet"]), ipaddress.ip_network(pool["ip_range"])
    frontend = ipaddress.ip_address(spec["services"]["frontend"]["networks"]["default"]["ipv4_address"])
    assert dynamic.subnet_of(subnet)
    assert frontend in subnet and frontend not in dynamic
    assert ipaddress.ip_address(pool["gateway"]) not in dynamic
    # Room for every container of the file, and more, in the dynamic range.
    assert dynamic.num_addresses - 2 > 4 * len(spec["services"])
    # The address the gateway trusts X-Forwarded-For from is the one the frontend is given.
    assert spec["services"]["api-gateway"]["environment"]["FORWARDED_ALLOW_IPS"] == str(frontend)
    assert compose_rules.addresses(spec) == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda pool, fixed: fixed.update(ipv4_address="172.28.0.200"), "is inside the dynamic ip_range"),
        (lambda pool, fixed: pool.pop("ip_range"), "has no ip_range"),
        (lambda pool, fixed: fixed.update(ipv4_address="10.0.0.10"), "is outside the network's subnets"),
        (lambda pool, fixed: fixed.update(ipv4_address="172.28.0.1"), "is the network's gateway"),
        (lambda pool, fixed: fixed.update(ipv4_address="172.28.0.0"), "network or broadcast address"),
        (lambda pool, fixed: pool.update(ip_range="172.29.0.0/25"), "lies outside it"),
    ],
)
def test_a_fixed_address_another_container_can_take_is_refused(change, complaint):
    spec = document()
    change(
        spec["networks"]["default"]["ipam"]["config"][0], spec["services"]["frontend"]["networks"]["default"]
    )
    (found,) = compose_rules.addresses(spec)
    assert found.startswith(f"{compose.PATH}: services.frontend.networks.default.ipv4_address ")
    assert complaint in found


def test_two_services_on_one_fixed_address_are_refused():
    spec = document()
    spec["services"]["grafana"]["networks"] = {"default": {"ipv4_address": settings.FRONTEND_ADDRESS}}
    (found,) = compose_rules.addresses(spec)
    assert "services.grafana" in found and "is also frontend's" in found


# --- images -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "refused"),
    [
        ("gcr.io/cadvisor/cadvisor:v0.52.1", True),
        ("ghcr.io/google/cadvisor:v0.53.0", True),
        ("ghcr.io/google/cadvisor:v0.54.0", False),
        ("ghcr.io/google/cadvisor:v0.60.6", False),
        ("gcr.io/cadvisor/cadvisor:v0.49.1@sha256:" + "0" * 64, True),
        ("example.com/other/cadvisor:v0.40.0", False),  # another image of the same name: no rule for it
    ],
)
def test_a_cadvisor_known_to_collect_nothing_on_docker_29_is_refused(image, refused):
    spec = document()
    spec["services"]["cadvisor"]["image"] = image
    found = compose_rules.images(spec)
    assert bool(found) is refused, found
    if refused:
        assert "is below v0.54.0, which is known not to work" in found[0]
        assert "google/cadvisor#3749" in found[0]


def test_the_pinned_images_pass_the_known_bad_table():
    assert compose_rules.images(document()) == []


# --- the check itself, on a broken copy ---------------------------------------------------------------


def test_airscope_check_fails_on_each_defect_in_a_broken_copy(checkout):
    def corrupt(spec: dict) -> None:
        spec["secrets"]["pagerduty_routing_key_infra"] = {"environment": "PAGERDUTY_ROUTING_KEY"}
        spec["services"]["frontend"]["networks"]["default"]["ipv4_address"] = "172.28.0.130"
        spec["services"]["cadvisor"]["image"] = "gcr.io/cadvisor/cadvisor:v0.52.1"

    rewrite(checkout, corrupt)
    # docker-compose 1.29 loads the copy as it is (no stand-in file hides the environment secret), and
    # the environment variable it names is one .env.example does not list.
    problems = "\n".join(compose_check.check(checkout))
    assert "secrets.pagerduty_routing_key_infra comes from `environment`, not a file" in problems
    assert "ipv4_address 172.28.0.130 is inside the dynamic ip_range 172.28.0.128/25" in problems
    assert "services.cadvisor.image 'gcr.io/cadvisor/cadvisor:v0.52.1' is below v0.54.0" in problems


def test_the_check_passes_the_generated_file_with_no_secret_file_present(checkout):
    # The operator writes them on the host; the checkout holds only the README and .gitignore.
    assert sorted(p.name for p in (checkout / compose_env.RECEIVER_KEYS_DIR).iterdir()) == [
        ".gitignore",
        "README.md",
    ]
    assert compose_check.check(checkout) == []


# --- ports, Jaeger, cAdvisor and the frontend's telemetry -------------------------------------------------


def test_jaeger_is_published_on_the_loopback_only_and_anything_wider_is_refused(checkout):
    assert document()["services"]["jaeger"]["ports"] == ["127.0.0.1:16686:16686"]
    rewrite(checkout, lambda spec: spec["services"]["jaeger"].update(ports=["0.0.0.0:16686:16686"]))
    (problem,) = compose_check.check(checkout)
    assert "services.jaeger.ports publishes ['0.0.0.0:16686:16686']" in problem
    assert "(others: 127.0.0.1 only)" in problem


def test_jaeger_has_a_memory_limit_sized_for_the_traces_it_keeps():
    spec = document()["services"]["jaeger"]
    config = yaml.safe_load(generated_jaeger())
    stored = config["extensions"]["jaeger_storage"]["backends"][jaeger.STORE]["memory"]["max_traces"]
    assert stored == jaeger.MAX_TRACES
    assert spec["mem_limit"] == f"{jaeger.MEMORY_LIMIT_MIB}m"
    assert spec["environment"] == {"GOMEMLIMIT": f"{jaeger.GO_MEMORY_LIMIT_MIB}MiB"}
    # The live traces fit under Go's limit with room for the collector, and that under the container's.
    assert jaeger.live_mib() * 1.5 < jaeger.GO_MEMORY_LIMIT_MIB < jaeger.MEMORY_LIMIT_MIB


def generated_jaeger() -> str:
    from airscope import catalog

    return jaeger.generate(catalog.load())[jaeger.PATH]


def test_cadvisor_keeps_only_the_compose_labels_the_containers_dashboard_selects_on():
    command = document()["services"]["cadvisor"]["command"]
    assert "--store_container_labels=false" in command
    assert f"--whitelisted_container_labels={','.join(settings.CADVISOR_LABELS)}" in command


def test_the_frontend_forwards_browser_telemetry_to_alloy_without_waiting_for_it():
    services = document()["services"]
    frontend = services["frontend"]
    assert frontend["environment"]["FRONTEND_FARO_FORWARD_URL"] == "http://alloy:12347/collect"
    assert "alloy" not in frontend.get("depends_on", {})  # a telemetry outage never stops the web UI
    # Both on the one compose network (the default), where the name alloy resolves.
    assert set(frontend["networks"]) == {"default"}
    assert "networks" not in services["alloy"]
