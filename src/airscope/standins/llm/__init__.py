"""The OpenAI-compatible LLM provider stand-in (port 7091): ``uvicorn --factory airscope.standins.llm:create_app``.

See ``app`` for the API, ``rules`` for how it answers and ``tokens`` for the usage it reports.
"""

from airscope.standins.llm.app import create_app

__all__ = ["create_app"]
