"""The operators' MCP server: the tools, the runbooks and the prompt on one ``MCPServer``, served over
stdio (what an assistant starts as a child process) or Streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import secrets

from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

import airscope
from airscope.local import ports
from airscope.operator_mcp import prompts
from airscope.operator_mcp.backends import Backends
from airscope.operator_mcp.tools import Tools

NAME = "airscope"
PATH = "/mcp"
INSTRUCTIONS = (
    "Read-only access to the PyAirtable platform's telemetry: service health (status), alerts with "
    "their runbooks' first checks (alerts), PromQL (query, query_range), a service's requests, errors "
    "and latency (red_summary), traces (traces, trace), logs (logs), error budgets (slo_budgets) and "
    "who calls whom (catalog). Start with status and alerts; the prompt `investigate` walks an alert's "
    "runbook. Show the queries you ran. Nothing here changes the platform."
)


def build(backends: Backends) -> MCPServer:
    # WARNING: the SDK logs every failed call at info, to stderr, which an assistant shows as its log.
    server = MCPServer(NAME, version=airscope.__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    Tools(backends).register(server)
    prompts.register(server, backends.runbooks)
    return server


class BearerKey:
    """Refuses every HTTP request without ``Authorization: Bearer <key>``. The SDK's bearer auth is
    OAuth's (an issuer, published metadata that sends clients looking for a login); a static key
    needs a comparison, in constant time."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not secrets.compare_digest(given, self.expected):
                message = (
                    "missing or wrong bearer token: send `Authorization: Bearer <the local API key>` "
                    "(`make up` prints it; it is kept in var/api-key)"
                )
                body = json.dumps({"error": "unauthorized", "message": message}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, key: str) -> ASGIApp:
    """Streamable HTTP at ``/mcp`` behind the key. Stateless, with JSON answers: every POST stands on
    its own (no session to lose when the server restarts), which read-only tools allow."""
    return BearerKey(
        server.streamable_http_app(streamable_http_path=PATH, stateless_http=True, json_response=True), key
    )


def stdio(backends: Backends) -> None:
    """Serves over stdin/stdout until the client closes them (stdout is the protocol's: nothing else
    may write there)."""
    build(backends).run("stdio")


def http(backends: Backends, key: str, port: int) -> None:
    """Serves Streamable HTTP on 127.0.0.1:``port`` until interrupted; a taken port is an error naming
    it and the setting that moves it."""
    import uvicorn

    ports.ensure_free(port, "airscope mcp --http", ports.env_var("mcp"))
    uvicorn.run(http_app(build(backends), key), host="127.0.0.1", port=port, log_level="warning")
