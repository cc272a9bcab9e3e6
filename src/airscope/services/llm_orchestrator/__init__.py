"""llm-orchestrator (port 7003): chat answered by an LLM that reads Airtable through mcp-server's tools."""

from airscope.services.llm_orchestrator.app import create_app

__all__ = ["create_app"]
