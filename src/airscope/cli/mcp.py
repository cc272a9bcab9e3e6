"""`airscope mcp`: the platform's telemetry for AI assistants, read-only (airscope.operator_mcp)."""

from __future__ import annotations

import click

from airscope.local import api_key, ports
from airscope.operator_mcp import server
from airscope.operator_mcp.backends import Backends

DEFAULT_PORT = 3001  # beside the console's 3000


@click.command("mcp")
@click.option(
    "--http",
    "over_http",
    is_flag=True,
    help="Serve Streamable HTTP at http://127.0.0.1:PORT/mcp (bearer: the local API key) instead of stdio.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help=f"With --http [default: $AIRSCOPE_PORT_MCP, else {DEFAULT_PORT}].",
)
@click.option(
    "--prometheus",
    metavar="URL",
    help="Production's Prometheus API, e.g. Mimir's http://mimir:9009/prometheus [default: $AIRSCOPE_PROMETHEUS_URL, else the local one].",
)
@click.option(
    "--alertmanager-url",
    metavar="URL",
    help="Production's Alertmanager [default: $AIRSCOPE_ALERTMANAGER_URL].",
)
@click.option(
    "--loki", metavar="URL", help="Production's Loki, for the logs tool [default: $AIRSCOPE_LOKI_URL]."
)
@click.option(
    "--tempo", metavar="URL", help="Production's Tempo, for the trace tools [default: $AIRSCOPE_TEMPO_URL]."
)
@click.option(
    "--tenant",
    metavar="ID",
    help="Sent as X-Scope-OrgID to Mimir, Loki and Tempo [default: $AIRSCOPE_TENANT].",
)
def mcp_command(
    over_http: bool,
    port: int | None,
    prometheus: str | None,
    alertmanager_url: str | None,
    loki: str | None,
    tempo: str | None,
    tenant: str | None,
) -> None:
    """A read-only MCP server for assistants: status, alerts and runbooks, PromQL, RED summaries,
    traces, logs, SLO budgets and the catalog of the local platform (or production's, given its URLs).

    Over stdio by default: an assistant starts `airscope mcp` itself (docs/mcp.md shows how)."""
    backends = Backends.select(
        prometheus=prometheus, alertmanager=alertmanager_url, loki=loki, tempo=tempo, tenant=tenant
    )
    if not over_http:
        server.stdio(backends)
        return
    port = port or ports.port_for("mcp", DEFAULT_PORT)
    click.echo(
        f"airscope mcp: Streamable HTTP at http://127.0.0.1:{port}/mcp (Authorization: Bearer <API key>)",
        err=True,
    )
    server.http(backends, api_key.api_key(), port)
