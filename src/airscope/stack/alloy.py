"""config.alloy: our containers' JSON logs into Loki, and the services' OTLP traces into Tempo and Jaeger.

Keys from grafana/alloy docs/sources/reference/components/ (discovery.docker, discovery.relabel,
loki.source.docker, loki.process, loki.write, otelcol.receiver.otlp, otelcol.processor.batch,
otelcol.exporter.otlp; all general-availability in v1.18).

The catalog is not read: containers are found by their labels, so a new service needs no edit here.
Alloy's own HTTP server (UI, /metrics, /-/ready) is not configured in this file: the compose file
starts Alloy with --server.http.listen-addr=0.0.0.0:12345, since the image's default is localhost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings

PATH = "deploy/alloy/config.alloy"
DOCKER_HOST = "unix:///var/run/docker.sock"  # the compose file mounts the socket here
LOKI_PUSH_URL = f"http://loki:{settings.PORTS['loki']}/loki/api/v1/push"
# Access lines of probes and scrapes: noise that would outnumber real requests. Matched against
# "<logger>;<route or path>", so an application line that happens to carry a route is never dropped.
PROBE_ACCESS_LINE = "^access;(/health.*|/metrics)$"


@dataclass(frozen=True)
class Ref:
    """A reference to another component's export, written bare: `loki.process.logs.receiver`."""

    path: str


@dataclass(frozen=True)
class Block:
    """`name "label" { ... }`; body items are (attribute, value) pairs or inner blocks, in order."""

    name: str
    label: str | None = None
    body: tuple = ()


# Rendered by hand from Python data: no library writes Alloy syntax.


def _value(value, indent: str) -> str:
    if isinstance(value, Ref):
        return value.path
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's string escapes are a subset of Alloy's
    inner = indent + "  "
    if isinstance(value, list):
        if len(value) <= 1:
            return "[" + "".join(_value(v, inner) for v in value) + "]"
        return "[\n" + "".join(f"{inner}{_value(v, inner)},\n" for v in value) + indent + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        keys = [k if k.isidentifier() else json.dumps(k) for k in value]
        width = max(map(len, keys))
        lines = "".join(
            f"{inner}{key.ljust(width)} = {_value(v, inner)},\n"
            for key, v in zip(keys, value.values(), strict=True)
        )
        return "{\n" + lines + indent + "}"
    raise TypeError(f"no Alloy form for {value!r}")


def _block(block: Block, indent: str = "") -> str:
    head = f'{indent}{block.name} "{block.label}"' if block.label else f"{indent}{block.name}"
    inner = indent + "  "
    lines: list[str] = []
    run: list[tuple[str, object]] = []

    def flush() -> None:
        # Like `alloy fmt`: the `=` of consecutive attributes line up.
        width = max((len(name) for name, _ in run), default=0)
        lines.extend(f"{inner}{name.ljust(width)} = {_value(v, inner)}\n" for name, v in run)
        run.clear()

    for item in block.body:
        if isinstance(item, Block):
            flush()
            lines.append(_block(item, inner))
        else:
            run.append(item)
    flush()
    return head + " {\n" + "".join(lines) + indent + "}\n"


def render(blocks: list[Block], comment: str) -> str:
    head = "".join(f"// {line}\n" if line else "//\n" for line in comment.splitlines())
    return head + "".join("\n" + _block(b) for b in blocks)


def docker_label(name: str) -> str:
    """The meta label discovery.docker gives a container label (names sanitised to [a-zA-Z0-9_])."""
    return "__meta_docker_container_label_" + "".join(c if c.isalnum() else "_" for c in name)


def _logs() -> list[Block]:
    containers = Block("discovery.docker", "containers", (("host", DOCKER_HOST),))
    services = Block(
        "discovery.relabel",
        "services",
        (
            ("targets", Ref("discovery.docker.containers.targets")),
            Block(
                "rule",
                body=(
                    ("source_labels", [docker_label(settings.SCRAPE_LABEL)]),
                    ("regex", "true"),
                    ("action", "keep"),
                ),
            ),
            Block(
                "rule",
                body=(("source_labels", [docker_label(settings.SERVICE_LABEL)]), ("target_label", "service")),
            ),
        ),
    )
    source = Block(
        "loki.source.docker",
        "services",
        (
            ("host", DOCKER_HOST),
            ("targets", Ref("discovery.relabel.services.output")),
            ("labels", {"environment": settings.COMPOSE.environment}),
            ("forward_to", [Ref("loki.process.services.receiver")]),
        ),
    )
    extracted = ("level", *settings.LOG_STRUCTURED_METADATA, "logger", "route", "path", "timestamp")
    process = Block(
        "loki.process",
        "services",
        (
            ("forward_to", [Ref("loki.write.loki.receiver")]),
            Block("stage.json", body=(("expressions", dict.fromkeys(extracted, "")),)),
            *(
                Block(
                    "stage.drop",
                    body=(
                        ("source", f"logger,{field}"),
                        ("expression", PROBE_ACCESS_LINE),
                        ("drop_counter_reason", "probe_access_line"),
                    ),
                )
                for field in ("route", "path")
            ),
            # The service's own clock, not the time Alloy read the line (it lags after a restart).
            Block("stage.timestamp", body=(("source", "timestamp"), ("format", "RFC3339Nano"))),
            # `service` comes from the container label and `environment` from the source: only
            # `level` is read from the line. Ids stay out of the index (one stream per request otherwise).
            Block("stage.labels", body=(("values", {"level": ""}),)),
            Block(
                "stage.structured_metadata",
                body=(("values", dict.fromkeys(settings.LOG_STRUCTURED_METADATA, "")),),
            ),
        ),
    )
    write = Block("loki.write", "loki", (Block("endpoint", body=(("url", LOKI_PUSH_URL),)),))
    return [containers, services, source, process, write]


def _otlp_exporter(host: str) -> Block:
    tls = Block("tls", body=(("insecure", True),))  # plaintext inside the compose network
    client = Block("client", body=(("endpoint", f"{host}:{settings.PORTS['otlp-grpc']}"), tls))
    return Block("otelcol.exporter.otlp", host, (client,))


def _traces() -> list[Block]:
    backends = ("tempo", "jaeger")
    receiver = Block(
        "otelcol.receiver.otlp",
        "services",
        (
            Block("grpc", body=(("endpoint", f"0.0.0.0:{settings.PORTS['otlp-grpc']}"),)),
            Block("http", body=(("endpoint", f"0.0.0.0:{settings.PORTS['otlp-http']}"),)),
            Block("output", body=(("traces", [Ref("otelcol.processor.batch.traces.input")]),)),
        ),
    )
    batch = Block(
        "otelcol.processor.batch",
        "traces",
        (Block("output", body=(("traces", [Ref(f"otelcol.exporter.otlp.{b}.input") for b in backends]),)),),
    )
    return [receiver, batch, *(_otlp_exporter(b) for b in backends)]


def config() -> list[Block]:
    return _logs() + _traces()


def generate(catalog: Catalog) -> dict[str, str]:
    comment = (
        _yaml.header("alloy.py")
        + "\n\nAlloy's own HTTP server (UI, /metrics) is not set here: the compose command\n"
        f"passes --server.http.listen-addr=0.0.0.0:{settings.PORTS['alloy']} (the image's default is localhost)."
    )
    return {PATH: render(config(), comment)}
