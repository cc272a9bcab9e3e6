"""``airscope load``: realistic mixed traffic through the api-gateway, and exactly what it sent.

Every flow the gateway serves, in a weighted mix (``WEIGHTS``): chat messages that make the LLM
stand-in call MCP tools (``standins/llm/rules/``), Airtable reads and now and then a record
created in the seeded demo base, registrations, logins and wrong passwords, CSV uploads whose
columns are a seeded table's (polled once), onboarding sagas (polled once), and the aggregated health.
The sagas run in the stand-in's load base (``LOAD_BASE_ID``): each adds a "<workspace> Tasks" table,
and in the demo base they would bury the three tables its chat answers and the docs name.

One job per module:

- ``plan``: the mix, every random choice drawn from ``Random(seed)`` in schedule order;
- ``pacing``: the open-loop schedule (action ``i`` starts at ``i / rps``);
- ``routes``: the gateway's route template for a request, the label its metrics carry;
- ``truth``: the ground truth the dashboard checks compare against (``Tally``, ``Domain``);
- ``flows``: each action as HTTP requests to the gateway;
- ``run``: one run, bounded in flight (``Load``), and ``send`` for the commands that check a load;
- ``progress``: the progress line and the printed summary.

The reachability probe at the start (``GET /health/live``) is not counted.
"""

from airscope.local.api_key import api_key
from airscope.local.load.pacing import schedule
from airscope.local.load.plan import CHAT_MESSAGES, RECORD_KINDS, TABLES, WEIGHTS, Action, Mix
from airscope.local.load.progress import Progress, render
from airscope.local.load.routes import HEALTH_ROUTE, gateway_route
from airscope.local.load.run import Load, Settings, default_gateway, random_seed, send, summarized
from airscope.local.load.truth import FILE_ENDS, PENDING, SAGA_ENDS, Domain, Tally, percentile

__all__ = [
    "CHAT_MESSAGES",
    "FILE_ENDS",
    "HEALTH_ROUTE",
    "PENDING",
    "RECORD_KINDS",
    "SAGA_ENDS",
    "TABLES",
    "WEIGHTS",
    "Action",
    "Domain",
    "Load",
    "Mix",
    "Progress",
    "Settings",
    "Tally",
    "api_key",
    "default_gateway",
    "gateway_route",
    "percentile",
    "random_seed",
    "render",
    "schedule",
    "send",
    "summarized",
]
