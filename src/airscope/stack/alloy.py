"""config.alloy: every container's logs into Loki (the platform's JSON lines, the stack's own in their
formats), the browser's telemetry through faro.receiver, and the OTLP traces into Tempo and Jaeger.

Keys from grafana/alloy docs/sources/reference/components/ and the stages' sources at v1.18.1
(discovery.docker, discovery.relabel, loki.source.docker, loki.process and its stages, loki.write,
faro.receiver, otelcol.receiver.otlp, otelcol.processor.batch, otelcol.exporter.otlp; all
general-availability in v1.18).

The catalog is not read: containers are found by their labels, so a new service needs no edit here.
Alloy's own HTTP server (UI, /metrics, /-/ready) is not configured in this file: the compose file
starts Alloy with --server.http.listen-addr=0.0.0.0:12345, since the image's default is localhost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings
from airscope.stack.compose_env import FRONTEND_ORIGIN

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
    if isinstance(value, Call):
        return f"{value.name}(" + ", ".join(_value(v, indent) for v in value.args) + ")"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        if ('"' in value or "\\" in value) and "`" not in value and "\n" not in value:
            # A raw string, as written (templates, selectors, regexes): Alloy reads no escape in it.
            return f"`{value}`"
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


# What each level of the closed set (settings.LOG_LEVELS) is called by the programs whose lines reach
# Loki, lowercased: the kit (structlog), Go's slog and go-kit (Prometheus, Alertmanager, the
# exporters, Loki, Tempo, Mimir, Alloy), Grafana (`dbug`, `eror` in older releases), zap (Jaeger),
# logrus (redis-exporter), PostgreSQL, the browser's console (`log`, `trace`), glog's one-letter
# severities (cAdvisor) and Redis' marks (`.` debug, `-` verbose, `*` notice, `#` warning).
# Anything else leaves the line without a level label, so no program can add a label value.
LEVEL_NAMES = {
    "debug": ("debug", "dbug", "trace", "debug1", "debug2", "debug3", "debug4", "debug5", ".", "-"),
    "info": ("info", "information", "notice", "log", "i", "*"),
    "warning": ("warning", "warn", "w", "#"),
    "error": ("error", "eror", "err", "e"),
    "critical": ("critical", "crit", "fatal", "panic", "dpanic", "alert", "emerg", "f"),
}
RAW_LEVEL = "raw_level"  # the extracted value the stages below map onto the closed set


def _level_template() -> str:
    """A Go template (sprig's functions) giving the closed-set level of RAW_LEVEL, or nothing."""
    names = "".join(
        f"{'' if i == 0 else 'else '}if has $l (list {' '.join(json.dumps(n) for n in aliases)}) }}}}{level}{{{{ "
        for i, (level, aliases) in enumerate(LEVEL_NAMES.items())
    )
    # `default` first: a missing value (no level in the line) would make `lower` fail.
    return f'{{{{ $l := lower (default "" .{RAW_LEVEL}) }}}}{{{{ {names}end }}}}'


def _level_stages() -> tuple[Block, Block]:
    """RAW_LEVEL onto the closed set, then the `level` label: an empty template result sets none."""
    return (
        Block("stage.template", body=(("source", "level"), ("template", _level_template()))),
        Block("stage.labels", body=(("values", {"level": ""}),)),
    )


def _keep(label: str, regex: str, action: str = "keep") -> Block:
    return Block("rule", body=(("source_labels", [label]), ("regex", regex), ("action", action)))


def _service_from(label: str) -> Block:
    return Block("rule", body=(("source_labels", [label]), ("target_label", "service")))


def _source(name: str) -> Block:
    return Block(
        "loki.source.docker",
        name,
        (
            ("host", DOCKER_HOST),
            ("targets", Ref(f"discovery.relabel.{name}.output")),
            ("labels", {"environment": settings.COMPOSE.environment}),
            ("forward_to", [Ref(f"loki.process.{name}.receiver")]),
        ),
    )


WRITE = Ref("loki.write.loki.receiver")


def _services_logs() -> list[Block]:
    """The platform's containers: the kit's JSON lines, `service` from the container label."""
    relabel = Block(
        "discovery.relabel",
        "services",
        (
            ("targets", Ref("discovery.docker.containers.targets")),
            _keep(docker_label(settings.SCRAPE_LABEL), "true"),
            _service_from(docker_label(settings.SERVICE_LABEL)),
        ),
    )
    ids = settings.LOG_STRUCTURED_METADATA
    extracted = {
        RAW_LEVEL: "level",
        **dict.fromkeys((*ids, "trace_sampled", "logger", "route", "path", "timestamp"), ""),
    }
    sampled = settings.LOG_SAMPLED_TRACE_ID
    process = Block(
        "loki.process",
        "services",
        (
            ("forward_to", [WRITE]),
            Block("stage.json", body=(("expressions", extracted),)),
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
            *_level_stages(),
            # The id of a kept trace only (production keeps one in ten): the key Grafana's link reads.
            # A template that gives nothing sets nothing, so a line of an unkept trace has no link.
            Block(
                "stage.template",
                body=(
                    ("source", sampled),
                    (
                        "template",
                        '{{ if eq (default "" .trace_sampled) "true" }}{{ default "" .trace_id }}{{ end }}',
                    ),
                ),
            ),
            Block("stage.structured_metadata", body=(("values", dict.fromkeys((*ids, sampled), "")),)),
        ),
    )
    return [relabel, _source("services"), process]


# Line formats of the stack's own containers, for their level (only the level: their lines stay as
# written). Anchored to each format's start, so a line of another format never matches.
STACK_LINE_LEVELS = (
    # zap's console encoder (Jaeger, an OpenTelemetry Collector): time, tab, level, tab.
    r"^\S+\t(?P<raw_level>[a-zA-Z]+)\t",
    # glog (cAdvisor): the severity letter, then MMDD and the time.
    r"^(?P<raw_level>[IWEF])\d{4} \d\d:\d\d:\d\d",
    # PostgreSQL's default log_line_prefix '%m [%p] ': time, zone, [pid], LEVEL:.
    r"^\d{4}-\d\d-\d\d \S+ \S+ \[\d+\] (?P<raw_level>[A-Z]+)[1-5]?: ",
    # Redis: pid:role, the time, then its level mark.
    r"^\d+:[XCSM] \d\d \w{3} \d{4} [\d:.]+ (?P<raw_level>[.*#-]) ",
)
# A line that opens a JSON object. LogQL wants a stream selector first: every stack target has
# `service`. `[{]`, not `\{`: a LogQL string in double quotes reads Go's escapes, and `\{` is none.
JSON_LINE = '{service=~".+"} |~ "^[{]"'


def _stack_logs() -> list[Block]:
    """The stack's own containers (Loki, Prometheus, Grafana, the exporters...): their own formats."""
    # Imported here: compose builds on this module (the Docker socket's path), so a top-level
    # import would be circular.
    from airscope.stack.compose import PROJECT

    relabel = Block(
        "discovery.relabel",
        "stack",
        (
            ("targets", Ref("discovery.docker.containers.targets")),
            # This compose project only: other containers on the host would bring labels of their own.
            _keep(docker_label("com.docker.compose.project"), PROJECT),
            # The platform's containers go through `services` (their JSON, the probe filter).
            _keep(docker_label(settings.SCRAPE_LABEL), "true", "drop"),
            # The compose service name: bounded by the compose file, like the platform's names.
            _service_from(docker_label("com.docker.compose.service")),
        ),
    )
    process = Block(
        "loki.process",
        "stack",
        (
            ("forward_to", [WRITE]),
            # JSON where a program writes JSON; logfmt otherwise (the Go tools' default); a line of
            # neither format yields nothing here.
            Block(
                "stage.match",
                body=(
                    ("selector", JSON_LINE),
                    Block("stage.json", body=(("expressions", {RAW_LEVEL: "level"}),)),
                ),
            ),
            Block(
                "stage.match",
                body=(
                    ("selector", JSON_LINE.replace("|~", "!~")),
                    Block("stage.logfmt", body=(("mapping", {RAW_LEVEL: "level"}),)),
                ),
            ),
            *(Block("stage.regex", body=(("expression", pattern),)) for pattern in STACK_LINE_LEVELS),
            *_level_stages(),
        ),
    )
    return [relabel, _source("stack"), process]


# The browser's telemetry (the Faro Web SDK) in production: the frontend forwards what its pages send
# to its own origin (/faro/collect) to this receiver, inside the compose network only.
FARO_PORT = settings.PORTS["faro"]
FARO_SERVICE = "frontend"  # the browser's lines are the frontend's, as locally (the frontend writes them)


@dataclass(frozen=True)
class Call:
    """A call of an Alloy standard-library function, written `name(arg, ...)`."""

    name: str
    args: tuple = ()


def _frontend_origins() -> Call:
    # The origins the operator set for the frontend (compose passes the variable to Alloy).
    return Call("string.split", (Call("sys.env", (FRONTEND_ORIGIN.name,)), ","))


def _faro() -> list[Block]:
    receiver = Block(
        "faro.receiver",
        "frontend",
        (
            # JSON lines, like the services': the Logs dashboard's `| json` reads both.
            ("log_format", "json"),
            Block(
                "server",
                body=(
                    ("listen_address", "0.0.0.0"),  # the default, 127.0.0.1, is unreachable from the frontend
                    ("listen_port", FARO_PORT),
                    ("cors_allowed_origins", _frontend_origins()),
                ),
            ),
            # Source maps of a stack trace come from the frontend's own origins only: a payload is the
            # browser's to write, and its file URLs must not send Alloy to any address they name.
            Block("sourcemaps", body=(("download_from_origins", _frontend_origins()),)),
            Block(
                "output",
                body=(
                    ("logs", [Ref("loki.process.faro.receiver")]),
                    # The services' path to Tempo and Jaeger: the browser's spans join their traces.
                    ("traces", [Ref("otelcol.processor.batch.traces.input")]),
                ),
            ),
        ),
    )
    process = Block(
        "loki.process",
        "faro",
        (
            ("forward_to", [WRITE]),
            Block(
                "stage.json",
                body=(
                    (
                        "expressions",
                        {RAW_LEVEL: "level", "kind": "", "trace_id": "traceID", "span_id": "spanID"},
                    ),
                ),
            ),
            # An exception has no level of its own: it is an error.
            Block(
                "stage.template",
                body=(
                    ("source", RAW_LEVEL),
                    (
                        "template",
                        f'{{{{ if eq (default "" .kind) "exception" }}}}error{{{{ else }}}}{{{{ default "" .{RAW_LEVEL} }}}}{{{{ end }}}}',
                    ),
                ),
            ),
            *_level_stages(),
            Block(
                "stage.static_labels",
                body=(("values", {"service": FARO_SERVICE, "environment": settings.COMPOSE.environment}),),
            ),
            # Searchable like the services' ids; no trace link (the browser's sampling is not ours to know).
            Block(
                "stage.structured_metadata",
                body=(("values", dict.fromkeys(settings.LOG_STRUCTURED_METADATA, "")),),
            ),
        ),
    )
    return [receiver, process]


def _logs() -> list[Block]:
    containers = Block("discovery.docker", "containers", (("host", DOCKER_HOST),))
    write = Block("loki.write", "loki", (Block("endpoint", body=(("url", LOKI_PUSH_URL),)),))
    return [containers, *_services_logs(), *_stack_logs(), *_faro(), write]


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
