"""The OpenAPI documents `airscope fuzz` works from, one per service.

Most services publish theirs at ``/openapi.json``. Three do not describe what they serve there:
- the api-gateway publishes none: its API is its upstreams' APIs under its own prefixes, behind its
  authentication and rate limit. ``gateway_document`` composes it from the upstreams' documents and
  the gateway's route table, so the routes it forwards are fuzzed through it;
- the frontend publishes none: its own API is the Faro collector (``POST /faro/collect``, the
  receiver's pydantic schema of the Faro Web SDK's payload), the page's files and the pass-through
  ``/api/{path}``;
- the mcp-server's document is empty: its one endpoint, ``POST /mcp``, speaks JSON-RPC (MCP's
  streamable HTTP transport), described here at the level of the JSON-RPC envelope.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from airscope.services.api_gateway.proxy import ROUTES, ProxyRoute
from airscope.services.frontend.faro import Payload

OPENAPI_PATH = "/openapi.json"
SCHEMAS = "#/components/schemas/"
# The body every service answers an error with (services/common/errors.py).
ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "details": {}},
}
PROXY_METHODS = ("get", "post", "put", "patch", "delete")


def published(base_url: str) -> dict[str, Any]:
    """The document a service serves at /openapi.json."""
    answer = httpx.get(base_url.rstrip("/") + OPENAPI_PATH, timeout=10)
    answer.raise_for_status()
    return answer.json()


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _document(title: str, paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "composed"},
        "paths": paths,
        "components": {"schemas": schemas or {}},
    }


def _gateway_path(upstream: str, path: str, method: str) -> ProxyRoute | None:
    """The first gateway route (in the gateway's own order) that forwards ``method path`` to ``upstream``."""
    for route in ROUTES:
        if route.upstream != upstream or method.upper() not in route.methods:
            continue
        exact = "{" not in route.template
        if (exact and path == route.target) or (not exact and path.startswith(route.target)):
            return route
    return None


def gateway_document(upstreams: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The api-gateway's API: each upstream operation it forwards, at its gateway path.

    ``upstreams``: service name -> its published document. Component names get the service's name
    as a prefix, since two services may name different schemas alike.
    """
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for service, document in upstreams.items():
        prefix = service.replace("-", "_") + "__"
        document = json.loads(json.dumps(document).replace(f'"{SCHEMAS}', f'"{SCHEMAS}{prefix}'))
        schemas.update({prefix + name: schema for name, schema in document["components"]["schemas"].items()})
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                route = _gateway_path(service, path, method)
                if route is None:
                    continue  # not reachable from outside (e.g. platform-services' /activity)
                gateway_path = (
                    route.template if "{" not in route.template else route.prefix + path[len(route.target) :]
                )
                responses = operation.setdefault("responses", {})
                # A path parameter may hold '.', '..' or an encoded '/': refused, or no such route.
                responses.setdefault("400", _error("the path holds '.' or '..' segments"))
                responses.setdefault("404", _error("no such route or resource"))
                responses["429"] = _error("rate limited")
                if not route.public:
                    responses["401"] = _error("no valid API key or bearer token")
                if route.admin:
                    responses["403"] = _error("a bearer token where only an API key is accepted")
                paths.setdefault(gateway_path, {})[method] = operation
    return _document("api-gateway", paths, schemas)


def frontend_document() -> dict[str, Any]:
    """The frontend's own API: the Faro collector, the page's files, and the pass-through to the gateway."""
    payload = Payload.model_json_schema(ref_template=SCHEMAS + "{model}")
    schemas = payload.pop("$defs", {})
    schemas["FaroPayload"] = payload
    collect = {
        "post": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": SCHEMAS + "FaroPayload"}}},
            },
            "responses": {
                "202": {"description": "accepted"},
                "400": _error("not a Faro payload"),
                "413": _error("too large"),
                "415": _error("compressed"),
                "429": _error("rate limited"),
            },
        }
    }
    path_parameter = [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}]
    static = {
        "get": {
            "parameters": path_parameter,
            "responses": {"200": {"description": "the file"}, "404": _error("no such file")},
        }
    }
    api = {
        method: {
            "parameters": path_parameter,
            **({"requestBody": {"content": {"application/json": {"schema": {}}}}} if method != "get" else {}),
            # Whatever the gateway answers, passed through; a server error is still one.
            "responses": {"default": {"description": "the api-gateway's answer"}},
        }
        for method in PROXY_METHODS
    }
    return _document(
        "frontend", {"/faro/collect": collect, "/static/{path}": static, "/api/{path}": api}, schemas
    )


def mcp_document() -> dict[str, Any]:
    """``POST /mcp``: a JSON-RPC 2.0 message (MCP's streamable HTTP transport, stateless, JSON answers)."""
    message = {
        "type": "object",
        "required": ["jsonrpc", "method"],
        "properties": {
            "jsonrpc": {"const": "2.0"},
            "id": {
                "type": ["integer", "string", "null"]
            },  # null: JSON-RPC allows it, MCP reads a notification
            "method": {"type": "string"},
            "params": {"type": "object"},
        },
    }
    mcp = {
        "post": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": message}}},
            "responses": {
                "200": {
                    "description": "the JSON-RPC answer",
                    "content": {"application/json": {"schema": {}}},
                },
                "202": {"description": "a notification, accepted"},
                "400": {"description": "not a JSON-RPC message"},
                # The transport's own Accept rules (requests sends */*, which it takes) are not ours to fuzz.
                "406": {"description": "the Accept header lacks a media type the transport needs"},
                "415": {"description": "not JSON"},
            },
        }
    }
    return _document("mcp-server", {"/mcp": mcp})
