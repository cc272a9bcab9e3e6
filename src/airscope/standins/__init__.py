"""Dev stand-ins for the outside SaaS the platform calls: Airtable (port 7090) and an LLM provider (7091).

They are development tooling: local mode and the tests run them in place of ``https://api.airtable.com``
and ``https://api.openai.com/v1`` so the platform works offline, deterministically and without
credentials. They speak the providers' own HTTP APIs (paths, bodies, error shapes), so the services
and the providers' client libraries cannot tell the difference.

They are never part of the production configuration, and they are not instrumented by the telemetry
kit: they play the SaaS outside the platform, whose internals nobody can watch.

- ``airscope.standins.airtable``: Airtable's REST API over SQLite, seeded with the demo base.
- ``airscope.standins.llm``: an OpenAI-compatible chat completions API answering by fixed rules.
- ``airscope.standins.faults``: the runtime fault switch both share (outage, errors, latency).
"""
