"""The runbooks as resources, and the ``investigate`` prompt that walks an alert's runbook with the tools."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resources import FunctionResource
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import Field

from airscope.operator_mcp import runbooks

# How a runbook's commands map onto the tools: the runbooks are written for a person at a terminal.
TOOL_FOR_COMMAND = """\
Each check the runbook gives as a command has a tool:
- `airscope status` -> status; `airscope alerts` -> alerts
- `airscope logs ...` -> logs (service, level, trace_id, since, grep)
- `airscope traces ...` -> traces; `airscope trace ID` -> trace
- a PromQL expression, a dashboard panel or a Grafana Explore query -> query / query_range
- a service's requests, errors and latency -> red_summary; `airscope slo` -> slo_budgets
- who calls whom, who owns it -> catalog
Skip the runbook's fixes (restarts, silences, config changes): these tools only read, and the fixes are
for the person on call."""


def register(server: MCPServer, book: runbooks.Runbooks) -> None:
    for name in book.names():
        server.add_resource(
            FunctionResource.from_function(
                fn=lambda name=name: book.text(name),
                uri=runbooks.uri(name),
                name=name,
                title=f"Runbook: {name}",
                description=f"What {name} means, its impact, first checks and fixes (docs/runbooks/{name}.md).",
                mime_type="text/markdown",
            )
        )

    @server.prompt(
        name="investigate",
        title="Investigate an alert",
        description="Walk an alert's runbook with the tools and say what is broken and why.",
    )
    def investigate(
        alert: Annotated[str, Field(description="The alert's name, e.g. HighLatency.")],
        service: Annotated[str | None, Field(description="The service it fires for, if one.")] = None,
    ) -> str:
        checks = book.first_checks(alert)
        if checks is None:
            known = ", ".join(book.names()) or "none"
            # An MCPError reaches the client with its message; any other exception the SDK hides.
            raise MCPError(INVALID_PARAMS, f"no runbook with first checks for {alert!r} (runbooks: {known})")
        where = f" for {service}" if service else ""
        return (
            f"Investigate the alert {alert}{where} on the PyAirtable platform, with the airscope tools only.\n\n"
            f"1. Call `alerts` (state all{f', service {service}' if service else ''}): does {alert} fire or "
            "wait, since when, at what value, and what else fires with it?\n"
            f"2. Do the first checks of its runbook ({runbooks.uri(alert)}), in order:\n\n{checks}\n\n"
            f"{TOOL_FOR_COMMAND}\n\n"
            "3. Answer in a few lines: what is broken, since when, the likely cause and the evidence (each "
            "query or tool call you made and what it showed), and which of the runbook's fixes applies."
        )
