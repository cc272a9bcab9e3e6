"""mcp-server: Airtable tools over MCP (Streamable HTTP at ``/mcp``), for llm-orchestrator.

The MCP endpoint is a plain route at exactly ``/mcp`` (a Starlette mount would answer ``/mcp``
with a redirect to ``/mcp/``). Clients POST JSON-RPC with
``Accept: application/json, text/event-stream``; the SDK's client does.

Stateless mode (``stateless_http=True``) with JSON answers: every POST is served on its own,
with no session kept in this process, so any instance behind a load balancer can answer any
request (no sticky sessions, nothing lost when an instance restarts or scales in). What it
gives up are server-to-client requests (sampling, elicitation) and resumable SSE streams,
which none of these tools needs. It also runs each tool inside the HTTP request's context, so
its log lines carry the request's id.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Match, Route
from starlette.types import Scope

import airscope
from airscope.services.common import install_error_handlers
from airscope.services.common.http_clients import internal_client
from airscope.services.mcp_server.config import Config
from airscope.services.mcp_server.metrics import InFlightRequests, ToolCallMetrics
from airscope.services.mcp_server.tools import AirtableGateway, AirtableTools
from airscope.telemetry import get_logger, http_check, instrument

log = get_logger(__name__)

INSTRUCTIONS = (
    "Read and change records in the platform's Airtable bases. Start with list_bases, then "
    "list_tables for a base's table and field names; search_records, count_records and "
    "aggregate_field take those names."
)


class EndpointRoute(Route):
    """A route to a plain ASGI app that, like FastAPI's own routes, names itself in ``scope["route"]``
    (FastAPI's router does not for Starlette routes), so metrics and spans say ``/mcp``."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match != Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def _transport_security(config: Config) -> TransportSecuritySettings:
    if config.allowed_hosts is None:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        allowed_hosts=list(config.allowed_hosts),
        allowed_origins=[f"http://{host}" for host in config.allowed_hosts],
    )


def create_app() -> FastAPI:
    config = Config.from_env()
    gateway_client = internal_client(
        timeout=config.gateway_timeout_seconds, base_url=config.airtable_gateway_url
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The session manager's task group runs every MCP request; without run() each one fails
        # with "Task group is not initialized".
        try:
            async with mcp.session_manager.run():
                yield
        finally:
            await gateway_client.aclose()

    app = FastAPI(title="mcp-server", version=airscope.__version__, lifespan=lifespan)
    install_error_handlers(app)
    # Before the MCP server is built: instrument() configures logging, so the SDK's
    # logging.basicConfig() finds the root logger set up and adds no handler of its own.
    instrument(
        app,
        service="mcp-server",
        version=airscope.__version__,
        # Critical: not one tool works without airtable-gateway.
        checks=[http_check("airtable-gateway", config.airtable_gateway_url, client=gateway_client)],
    )

    # The SDK's OpenTelemetry middleware (on by default) makes a span per message, parented on
    # the trace context the client put into the request's _meta; the tools' httpx calls run
    # inside that span, so the trace goes on into airtable-gateway.
    mcp = MCPServer(
        "mcp-server",
        version=airscope.__version__,
        instructions=INSTRUCTIONS,
        middleware=[ToolCallMetrics()],
    )
    AirtableTools(AirtableGateway(gateway_client)).register(mcp)
    mcp.streamable_http_app(
        stateless_http=True, json_response=True, transport_security=_transport_security(config)
    )
    app.router.routes.append(EndpointRoute("/mcp", InFlightRequests(mcp.session_manager.handle_request)))
    # In stateless mode the SDK logs "Terminating session: None" at info for every request; the
    # access line already says that the request was served.
    logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)
    log.info("mcp-server configured", airtable_gateway=config.airtable_gateway_url)
    return app
