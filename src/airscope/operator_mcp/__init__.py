"""``airscope mcp``: the platform's telemetry for operators' AI assistants, read-only, over MCP (stdio,
or Streamable HTTP on 127.0.0.1 behind the local API key). docs/mcp.md says how to use it.

- ``sources``: where logs and traces are read, the local files (``LocalLogs``, ``LocalTraces``) or
  production's ``loki`` and ``tempo``;
"""
