"""mcp-server (port 7001): the platform's Airtable tools over MCP, served at ``/mcp``."""

from airscope.services.mcp_server.app import create_app

__all__ = ["create_app"]
