"""The trace the console's trace tests write: a chat, gateway -> orders."""

from __future__ import annotations

from tests.local.test_topology import SpanFiles


def chat(files: SpanFiles, at: float, error: bool = False, took: float = 20) -> dict:
    """gateway -> orders at ``at`` ms, the orders span ``took`` ms and failing (with an exception
    event) when ``error``; the root span."""
    root = files.span(
        "gateway", "POST /chat", at, took + 10, **{"http.request.method": "POST", "http.route": "/chat"}
    )
    call = files.span(
        "gateway", "POST", at + 1, took + 2, "client", root, **{"http.url": "http://127.0.0.1:7001/c"}
    )
    files.span(
        "orders",
        "POST /c",
        at + 2,
        took,
        "server",
        call,
        error,
        "orders@2",
        events=[("exception", at + 3, {"exception.type": "ValueError"})] if error else (),
        **{"http.request.method": "POST"},
    )
    return root
