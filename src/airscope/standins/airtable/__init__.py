"""The Airtable REST API stand-in (port 7090): ``uvicorn --factory airscope.standins.airtable:create_app``.

See ``app`` for the API, the admin grow endpoint and the environment, ``store`` for the data and how
it answers field options and views, ``seed`` for the demo and load bases and the grown tables,
``formula`` for the ``filterByFormula`` subset and ``ratelimit`` for the per-base limit.
"""

from airscope.standins.airtable.app import create_app

__all__ = ["create_app"]
