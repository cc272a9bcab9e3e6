"""``airscope mcp``: the platform's telemetry for operators' AI assistants, read-only, over MCP (stdio,
or Streamable HTTP on 127.0.0.1 behind the local API key). docs/mcp.md says how to use it.

- ``sources``: where logs and traces are read, the local files (``LocalLogs``, ``LocalTraces``) or
  production's ``loki`` and ``tempo``;
- ``backends``: which Prometheus, Alertmanager, log and trace sources a server reads (``Backends``);
- ``limits``: how much one call may read and return; ``promql``: PromQL under those bounds;
- ``tools``: the read-only tools; ``answers``: their answers, redacted, as MCP carries them;
- ``runbooks`` and ``prompts``: docs/runbooks as resources, and the ``investigate`` prompt;
- ``server``: the ``MCPServer`` and its two transports (stdio; HTTP behind a bearer key);
- ``loki``: ``LokiLogs``, production's logs from Loki's query_range API (LogQL on Alloy's labels);
- ``tempo``: ``TempoTraces``, production's traces from Tempo's search (TraceQL) and trace-by-id APIs
  (``httpjson``: their one JSON GET, every failure naming the backend's URL).
"""
