"""The Airtable REST API stand-in (port 7090): ``uvicorn --factory airscope.standins.airtable:create_app``.

See ``app`` for the API and environment, ``seed`` for the demo base, ``formula`` for the
``filterByFormula`` subset and ``ratelimit`` for the per-base limit.
"""

from airscope.standins.airtable.app import create_app

__all__ = ["create_app"]
