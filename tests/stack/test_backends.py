from __future__ import annotations

import re

import pytest
import yaml

from airscope import catalog
from airscope.stack import alloy, jaeger, loki, mimir, settings, tempo
from airscope.stack.checks import backends
from airscope.stack.checks.alloy_syntax import AlloyBlock, AlloySyntaxError, parse_alloy

GENERATORS = (loki, alloy, tempo, jaeger, mimir)


def _generate(services: catalog.Catalog | None = None) -> dict[str, str]:
    files: dict[str, str] = {}
    for module in GENERATORS:
        files.update(module.generate(services or catalog.load()))
    return files


@pytest.fixture
def checkout(deployed):
    return deployed


def _edit(root, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text()
    assert old in text, f"{old!r} is not in {path}: the test no longer corrupts anything"
    file.write_text(text.replace(old, new))


def test_generation_is_deterministic_and_stays_under_deploy():
    first, second = _generate(), _generate()
    assert first == second
    assert sorted(first) == sorted([loki.PATH, alloy.PATH, tempo.PATH, jaeger.PATH, mimir.PATH])
    assert all(path.startswith("deploy/") for path in first)


def test_check_passes_on_the_generated_files(checkout):
    assert backends.check(checkout) == []


def test_a_misspelt_loki_key_is_reported_with_its_file_and_path(checkout):
    _edit(checkout, loki.PATH, "retention_enabled:", "retention_enabeld:")
    problems = backends.check(checkout)
    assert any(p.startswith(loki.PATH) and "`compactor.retention_enabeld`" in p for p in problems)
    # The misspelling also leaves retention off, which is reported on its own.
    assert any("`compactor.retention_enabled` is not set" in p for p in problems)


def test_a_tempo_receiver_bound_to_localhost_is_reported(checkout):
    _edit(checkout, tempo.PATH, "endpoint: 0.0.0.0:4317", "endpoint: localhost:4317")
    problems = backends.check(checkout)
    assert [p for p in problems if p.startswith(tempo.PATH)] == [
        f"{tempo.PATH}: `distributor.receivers.otlp.protocols.grpc.endpoint` is 'localhost:4317', expected "
        "'0.0.0.0:4317': Tempo 2.x receivers listen on localhost unless told otherwise"
    ]


def test_a_tempo_3_key_in_the_2x_file_is_named_as_such(checkout):
    _edit(checkout, tempo.PATH, "usage_report:", "backend_worker:\n  compaction: {}\nusage_report:")
    problems = backends.check(checkout)
    assert any("`backend_worker`" in p and "Tempo 3.0 key" in p for p in problems)


def test_an_alloy_reference_to_an_undefined_component_is_reported(checkout):
    _edit(checkout, alloy.PATH, "[loki.process.services.receiver]", "[loki.process.missing.receiver]")
    problems = backends.check(checkout)
    assert len(problems) == 1
    assert problems[0].startswith(f"{alloy.PATH}: line ")
    assert "`loki.source.docker.services.forward_to` refers to `loki.process.missing`" in problems[0]


def test_an_alloy_reference_to_a_missing_export_is_reported(checkout):
    _edit(checkout, alloy.PATH, "loki.write.loki.receiver", "loki.write.loki.input")
    assert any("exports receiver" in p for p in backends.check(checkout))


def test_an_unknown_or_unlabelled_alloy_component_is_reported(checkout):
    _edit(checkout, alloy.PATH, 'loki.write "loki" {', "loki.writer {")
    problems = backends.check(checkout)
    assert any("`loki.writer` is not a component this project knows" in p for p in problems)
    assert any("refers to `loki.write.loki`, which the file does not define" in p for p in problems)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '  host = "unix:///var/run/docker.sock"\n}',
            '  host = "unix:///var/run/docker.sock"\n',
            "never closed",
        ),
        ('regex         = "true"', 'regex         = "true', "never closed"),
        ("discovery.docker.containers.targets", "discovery.docker.containers.targets }", "closes no block"),
    ],
)
def test_unbalanced_alloy_blocks_and_strings_are_reported(checkout, old, new, message):
    _edit(checkout, alloy.PATH, old, new)
    problems = backends.check(checkout)
    assert len(problems) == 1 and message in problems[0] and problems[0].startswith(alloy.PATH)


def test_alloy_keeps_only_the_log_labels_and_moves_ids_to_structured_metadata():
    blocks = [b for b in parse_alloy(alloy.generate(catalog.load())[alloy.PATH]) if isinstance(b, AlloyBlock)]
    labels: set[str] = set()
    metadata: set[str] = set()
    for block in blocks:
        for rule in block.blocks("rule"):
            target = rule.attributes().get("target_label", "__")
            labels |= set() if target.startswith("__") else {target}
        labels |= set(block.attributes().get("labels") or {})
        for stage in block.blocks("stage.labels") + block.blocks("stage.static_labels"):
            labels |= set(stage.attributes()["values"])
        for stage in block.blocks("stage.structured_metadata"):
            metadata |= set(stage.attributes()["values"])
    assert labels == {"service", "level", "environment"} == set(settings.LOG_LABELS)
    # The link to a kept trace's key besides the ids (test_alloy_logs.py: only for kept traces).
    assert metadata == {"trace_id", "span_id", settings.LOG_SAMPLED_TRACE_ID}
    source = next(b for b in blocks if b.name == "loki.source.docker")
    assert source.attributes()["labels"] == {"environment": settings.COMPOSE.environment}


def test_an_extra_alloy_stream_label_is_reported(checkout):
    _edit(checkout, alloy.PATH, '      level = "",\n', '      level = "",\n      trace_id = "",\n')
    assert any("['trace_id'] are not in settings.LOG_LABELS" in p for p in backends.check(checkout))


def test_a_browser_label_from_faro_is_reported(checkout):
    # faro.receiver can label its lines from the payload (a session or a page): unbounded streams.
    _edit(
        checkout,
        alloy.PATH,
        '  log_format = "json"\n',
        '  log_format = "json"\n  extra_log_labels = { page_url = "" }\n',
    )
    assert any("['page_url'] are not in settings.LOG_LABELS" in p for p in backends.check(checkout))


def test_alloy_keeps_only_our_containers_and_drops_probe_access_lines():
    blocks = {(b.name, b.label): b for b in parse_alloy(alloy.generate(catalog.load())[alloy.PATH])}
    keep, service = blocks["discovery.relabel", "services"].blocks("rule")
    assert keep.attributes() == {
        "source_labels": ["__meta_docker_container_label_airscope_scrape"],
        "regex": "true",
        "action": "keep",
    }
    assert service.attributes()["source_labels"] == ["__meta_docker_container_label_airscope_service"]
    drops = blocks["loki.process", "services"].blocks("stage.drop")
    assert {d.attributes()["source"] for d in drops} == {"logger,route", "logger,path"}

    pattern = re.compile(drops[0].attributes()["expression"])
    assert pattern.search("access;/health/live") and pattern.search("access;/metrics")
    assert not pattern.search("access;/api/chat") and not pattern.search("app;/health")


def test_alloy_sends_traces_to_tempo_and_jaeger_over_plaintext_grpc():
    blocks = {(b.name, b.label): b for b in parse_alloy(alloy.generate(catalog.load())[alloy.PATH])}
    for host in ("tempo", "jaeger"):
        client = blocks["otelcol.exporter.otlp", host].blocks("client")[0]
        assert client.attributes()["endpoint"] == f"{host}:{settings.PORTS['otlp-grpc']}"
        assert client.blocks("tls")[0].attributes() == {"insecure": True}


def test_the_alloy_parser_reads_escapes_comments_and_calls():
    items = parse_alloy(
        '/* note */ x "a" {\n  s = "q\\"uote" // trailing\n  r = `raw\\n`\n  e = sys.env("HOME")\n}\n'
    )
    (block,) = items
    attributes = block.attributes()
    assert attributes["s"] == 'q"uote' and attributes["r"] == "raw\\n"
    assert attributes["e"].name == "sys.env"
    with pytest.raises(AlloySyntaxError, match=r"line 2: the `\[` opened here is never closed"):
        parse_alloy('x "a" {\n  y = [1, 2\n')


def test_jaeger_pipelines_must_name_defined_components(checkout):
    _edit(checkout, jaeger.PATH, "      - batch\n", "      - batch/missing\n")
    assert (
        f"{jaeger.PATH}: `service.pipelines.traces.processors` names 'batch/missing', which `processors` does not define"
        in backends.check(checkout)
    )


def test_jaeger_storage_names_must_match(checkout):
    _edit(checkout, jaeger.PATH, "trace_storage: memstore", "trace_storage: elsewhere")
    assert any(
        "`exporters.jaeger_storage_exporter.trace_storage` is 'elsewhere'" in p
        for p in backends.check(checkout)
    )


def test_mimir_multitenancy_and_alertmanager_are_reported(checkout):
    _edit(checkout, mimir.PATH, "multitenancy_enabled: false", "multitenancy_enabled: true")
    _edit(checkout, mimir.PATH, "target: all", "target: all,alertmanager")
    problems = [p for p in backends.check(checkout) if p.startswith(mimir.PATH)]
    assert any("`multitenancy_enabled` is True" in p for p in problems)
    assert any("Mimir's Alertmanager" in p for p in problems)


def test_yaml_that_does_not_parse_or_is_missing_is_reported(checkout):
    (checkout / loki.PATH).write_text("server: [unclosed\n")
    (checkout / mimir.PATH).unlink()
    problems = backends.check(checkout)
    assert any(p.startswith(f"{loki.PATH}: not valid YAML") for p in problems)
    assert f"{mimir.PATH}: missing; run `.venv/bin/airscope gen`" in problems


def test_retention_follows_settings():
    assert yaml.safe_load(loki.generate(catalog.load())[loki.PATH])["limits_config"]["retention_period"] == (
        settings.LOKI_RETENTION
    )
    tempo_config = yaml.safe_load(tempo.generate(catalog.load())[tempo.PATH])
    assert tempo_config["compactor"]["compaction"]["block_retention"] == settings.TRACE_RETENTION
    mimir_config = yaml.safe_load(mimir.generate(catalog.load())[mimir.PATH])
    assert mimir_config["limits"]["compactor_blocks_retention_period"] == settings.MIMIR_RETENTION


def test_a_ninth_service_needs_no_edit_here(ninth_service):
    # Containers are found by their labels, so nothing here lists the catalog's services.
    assert ninth_service in catalog.load().services
    assert _generate() == _generate(catalog.load(catalog.DEFAULT_PATH))
