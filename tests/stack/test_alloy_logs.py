"""What config.alloy does to logs, read from the generated file: every compose service's lines reach
Loki once with its `service`, levels only from the closed set, the trace link only for kept traces,
and the browser's telemetry through faro.receiver.

Alloy cannot run here: the discovery rules and the parsing stages are applied by small readers of
the few stage kinds the file uses, to the formats the stack's programs write (samples below).
"""

from __future__ import annotations

import io
import json
import re

import pytest
import yaml

from airscope import catalog, stack
from airscope.stack import alloy, compose, compose_env, settings
from airscope.stack.checks.alloy_syntax import AlloyBlock, Call, parse_alloy
from airscope.stack.grafana import datasources
from airscope.telemetry import configure_logging, get_logger, reset_logging

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return stack.generate()


@pytest.fixture(scope="module")
def blocks(files) -> dict[tuple[str, str], AlloyBlock]:
    return {(b.name, b.label): b for b in parse_alloy(files[alloy.PATH]) if isinstance(b, AlloyBlock)}


def _relabel(rules: list[AlloyBlock], labels: dict[str, str]) -> dict[str, str] | None:
    """Prometheus' relabelling, for the keep, drop and replace rules the file uses; None: dropped."""
    labels = dict(labels)
    for rule in rules:
        spec = rule.attributes()
        value = ";".join(labels.get(name, "") for name in spec["source_labels"])
        matched = re.fullmatch(spec.get("regex", "(.*)"), value)
        action = spec.get("action", "replace")
        if action == "keep" and not matched:
            return None
        if action == "drop" and matched:
            return None
        if action == "replace" and matched:
            result = matched.expand(spec.get("replacement", "$1").replace("$1", r"\1"))
            if result:
                labels[spec["target_label"]] = result
            else:
                labels.pop(spec["target_label"], None)
    return {name: value for name, value in labels.items() if not name.startswith("__")}


def _streams(blocks, container_labels: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """(loki.source.docker label, stream labels) of every source that tails this container."""
    meta = {alloy.docker_label(name): value for name, value in container_labels.items()}
    found = []
    for (name, label), block in blocks.items():
        if name != "loki.source.docker":
            continue
        targets = block.attributes()["targets"].path.split(".")
        relabel = blocks["discovery.relabel", targets[2]]
        assert relabel.attributes()["targets"].path == "discovery.docker.containers.targets"
        kept = _relabel(relabel.blocks("rule"), meta)
        if kept is not None:
            found.append((label, kept | block.attributes()["labels"]))
    return found


def test_every_compose_service_ships_its_logs_once_with_its_service_label(files, blocks):
    services = yaml.safe_load(files[compose.PATH])["services"]
    assert {"loki", "tempo", "mimir", "alloy", "grafana", "prometheus", "alertmanager"} <= set(services)
    for name, spec in services.items():
        # Compose labels every container with its project and service, beside the file's own labels.
        labels = {**(spec.get("labels") or {}), COMPOSE_PROJECT: compose.PROJECT, COMPOSE_SERVICE: name}
        streams = _streams(blocks, labels)
        assert len(streams) == 1, f"{name}: tailed by {[s for s, _ in streams] or 'no source'}"
        (source, stream) = streams[0]
        assert stream == {"service": name, "environment": settings.COMPOSE.environment}, name
        # The platform's lines go through the JSON pipeline, the stack's through their own formats.
        assert source == ("services" if settings.SCRAPE_LABEL in labels else "stack"), name
        # loki.source.docker reads the Docker API's logs, which only these drivers keep.
        assert spec["logging"]["driver"] in ("json-file", "local"), name


def test_containers_of_other_projects_are_not_shipped(blocks):
    # Another project on the host would bring service names of its own: unbounded labels.
    assert _streams(blocks, {COMPOSE_PROJECT: "someone-else", COMPOSE_SERVICE: "db"}) == []
    assert _streams(blocks, {}) == []


# What each program of the stack prints (its default format), and the level label Alloy must give it.
STACK_LINES = [
    # Prometheus, Alertmanager and the exporters (Go's slog, logfmt).
    ('time=2026-12-07T05:33:34.123Z level=INFO source=main.go:1 msg="Server is ready"', "info"),
    ('time=2026-12-07T05:33:34.123Z level=WARN source=cluster.go:9 msg="gossip"', "warning"),
    # Loki, Tempo, Mimir, Alloy (go-kit logfmt).
    ('level=error ts=2026-12-07T05:33:34.123Z caller=main.go:1 msg="failed to flush"', "error"),
    ('ts=2026-12-07T05:33:34.123Z caller=main.go:1 level=debug msg="tick"', "debug"),
    # Grafana.
    ('logger=settings t=2026-12-07T05:33:34.123+00:00 level=info msg="Starting Grafana"', "info"),
    # redis-exporter (logrus).
    ('time="2026-12-07T05:33:34Z" level=fatal msg="Couldn\'t connect"', "critical"),
    # A program configured for JSON.
    ('{"level":"warn","ts":1.7e9,"msg":"slow query"}', "warning"),
    # Jaeger (an OpenTelemetry Collector: zap's console encoder).
    ("2026-12-07T05:33:34.123Z\tinfo\tservice@v0.1/service.go:1\tStarting jaeger\t{}", "info"),
    # cAdvisor (glog).
    ("E1207 05:33:34.123456       1 manager.go:1] Failed to get container", "error"),
    ("W1207 05:33:34.123456       1 manager.go:1] Could not configure", "warning"),
    # PostgreSQL.
    ("2026-12-07 05:33:34.123 UTC [1] LOG:  database system is ready to accept connections", "info"),
    ('2026-12-07 05:33:34.123 UTC [57] FATAL:  password authentication failed for user "x"', "critical"),
    ("2026-12-07 05:33:34.123 UTC [57] DETAIL:  Connection matched pg_hba.conf line 1", None),
    # Redis.
    ("1:M 07 Dec 2026 05:33:34.123 * Ready to accept connections tcp", "info"),
    ("1:M 07 Dec 2026 05:33:34.123 # WARNING Memory overcommit must be enabled!", "warning"),
    # Crash output and anything else: no level, never a made-up one.
    ("Traceback (most recent call last):", None),
    ("panic: runtime error: index out of range [recovered] level=bogus", None),
]


def _selector_matches(selector: str, line: str) -> bool:
    """The match selectors the file uses: `{service=~".+"} |~ "re"` or `!~ "re"`."""
    found = re.fullmatch(r'\{service=~"\.\+"\} (\|~|!~) "(.*)"', selector)
    assert found, f"a selector this reader does not know: {selector}"
    return bool(re.search(found[2], line)) == (found[1] == "|~")


def _extract(stages: list[AlloyBlock], line: str) -> dict[str, str]:
    """Runs the extraction stages on one line; returns the extracted map (the template is below)."""
    extracted: dict[str, str] = {}
    for stage in stages:
        spec = stage.attributes()
        if stage.name == "stage.match":
            if _selector_matches(spec["selector"], line):
                extracted |= _extract([s for s in stage.body if isinstance(s, AlloyBlock)], line)
        elif stage.name == "stage.json":
            try:
                data = json.loads(line)
            except ValueError:
                continue
            for name, key in spec["expressions"].items():
                if (key or name) in data:
                    extracted[name] = str(data[key or name])
        elif stage.name == "stage.logfmt":
            pairs = dict(re.findall(r'(\w+)=("[^"]*"|\S*)', line))
            for name, key in spec["mapping"].items():
                if (key or name) in pairs:
                    extracted[name] = pairs[key or name].strip('"')
        elif stage.name == "stage.regex":
            found = re.search(spec["expression"], line)
            if found:
                extracted |= {k: v for k, v in found.groupdict().items() if v is not None}
    return extracted


def _level(raw: str | None) -> str | None:
    """What the level template gives: the closed-set name the raw value is an alias of."""
    lowered = (raw or "").lower()
    return next((level for level, names in alloy.LEVEL_NAMES.items() if lowered in names), None)


@pytest.mark.parametrize(("line", "level"), STACK_LINES)
def test_the_stack_programs_lines_get_a_level_from_the_closed_set_or_none(blocks, line, level):
    stages = [s for s in blocks["loki.process", "stack"].body if isinstance(s, AlloyBlock)]
    assert _level(_extract(stages, line).get(alloy.RAW_LEVEL)) == level


def test_the_level_template_maps_exactly_the_alias_table_onto_the_closed_set(blocks):
    assert list(alloy.LEVEL_NAMES) == list(settings.LOG_LEVELS)
    aliases = [name for names in alloy.LEVEL_NAMES.values() for name in names]
    assert len(aliases) == len(set(aliases)) and all(name == name.lower() for name in aliases)
    for pipeline in ("services", "stack", "faro"):
        stages = [s for s in blocks["loki.process", pipeline].body if isinstance(s, AlloyBlock)]
        (labels,) = [s for s in stages if s.name == "stage.labels"]
        assert labels.attributes()["values"] == {"level": ""}, pipeline
        # The label is set from what the template gives, right before it, and from nothing else.
        template = stages[stages.index(labels) - 1].attributes()
        assert template["source"] == "level", pipeline
        branches = re.findall(r"has \$l \(list ([^)]*)\) \}\}(\w+)\{\{", template["template"])
        assert {out: tuple(json.loads(f"[{names.replace(' ', ',')}]")) for names, out in branches} == (
            alloy.LEVEL_NAMES
        ), pipeline
        assert template["template"].startswith('{{ $l := lower (default "" .raw_level) }}'), pipeline
        assert template["template"].endswith("{{ end }}"), pipeline


def _kit_line(**fields) -> dict:
    stream = io.StringIO()
    configure_logging("api-gateway", stream=stream)
    try:
        get_logger("app").info("hello", **fields)
    finally:
        reset_logging()
    return json.loads(stream.getvalue())


def test_the_trace_link_key_is_set_only_for_kept_traces(files, blocks):
    sampled = settings.LOG_SAMPLED_TRACE_ID
    stages = [s for s in blocks["loki.process", "services"].body if isinstance(s, AlloyBlock)]
    (json_stage,) = [s for s in stages if s.name == "stage.json"]
    assert {"trace_id", "span_id", "trace_sampled"} <= set(json_stage.attributes()["expressions"])
    (link,) = [s for s in stages if s.name == "stage.template" and s.attributes()["source"] == sampled]
    # Empty unless the line's trace_sampled is true; Alloy's template stage sets no key for "".
    assert link.attributes()["template"] == (
        '{{ if eq (default "" .trace_sampled) "true" }}{{ default "" .trace_id }}{{ end }}'
    )
    (metadata,) = [s for s in stages if s.name == "stage.structured_metadata"]
    assert set(metadata.attributes()["values"]) == {*settings.LOG_STRUCTURED_METADATA, sampled}
    assert stages.index(link) < stages.index(metadata)

    # Grafana's link reads that key alone: not trace_id, which `| json` makes a label of on every line.
    document = yaml.safe_load(files[datasources.PATH])
    (loki,) = [d for d in document["datasources"] if d["uid"] == settings.DATASOURCE_UIDS["loki"]]
    (derived,) = loki["jsonData"]["derivedFields"]
    assert derived["matcherType"] == "label" and derived["matcherRegex"] == sampled
    assert derived["datasourceUid"] == settings.DATASOURCE_UIDS["tempo"]
    # No line the kit writes holds that key, so no JSON parser can make it a label of an unkept trace.
    assert sampled not in _kit_line(trace_id="0" * 32)


def test_the_browser_telemetry_goes_to_loki_and_the_trace_backends(files, blocks):
    receiver = blocks["faro.receiver", "frontend"]
    server = receiver.blocks("server")[0].attributes()
    assert server["listen_address"] == "0.0.0.0" and server["listen_port"] == alloy.FARO_PORT == 12347
    origins = server["cors_allowed_origins"]
    assert isinstance(origins, Call) and origins.name == "string.split"
    (env, separator) = origins.args
    assert env.name == "sys.env" and env.args == (compose_env.FRONTEND_ORIGIN.name,) and separator == ","
    # Compose hands Alloy the variable it reads.
    environment = yaml.safe_load(files[compose.PATH])["services"]["alloy"]["environment"]
    assert environment[compose_env.FRONTEND_ORIGIN.name] == compose_env.FRONTEND_ORIGIN.ref()
    # A payload's stack-frame URLs may fetch source maps from the frontend's origins only.
    assert receiver.blocks("sourcemaps")[0].attributes()["download_from_origins"] == origins
    assert receiver.attributes()["log_format"] == "json"
    output = receiver.blocks("output")[0].attributes()
    assert [r.path for r in output["logs"]] == ["loki.process.faro.receiver"]
    assert [r.path for r in output["traces"]] == ["otelcol.processor.batch.traces.input"]
    batch = blocks["otelcol.processor.batch", "traces"].blocks("output")[0].attributes()["traces"]
    assert "otelcol.exporter.otlp.tempo.input" in [r.path for r in batch]

    faro = blocks["loki.process", "faro"]
    assert [r.path for r in faro.attributes()["forward_to"]] == ["loki.write.loki.receiver"]
    (static,) = faro.blocks("stage.static_labels")
    assert static.attributes()["values"] == {
        "service": alloy.FARO_SERVICE,
        "environment": settings.COMPOSE.environment,
    }
    assert alloy.FARO_SERVICE in catalog.load().services
    # Where compose tells the frontend to forward its browsers' payloads: the receiver's one path.
    services = yaml.safe_load(files[compose.PATH])["services"]
    assert services["frontend"]["environment"]["FRONTEND_FARO_FORWARD_URL"] == (
        f"http://alloy:{alloy.FARO_PORT}/collect"
    )
