"""A fake Prometheus HTTP API over httpx.MockTransport for the console's unit tests: answers chosen
per expression, every request recorded. (The e2e tests use the real one.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

Answer = dict[str, Any] | Callable[[dict[str, str]], dict[str, Any]]


def vector(*samples: tuple[dict[str, str], float | str], at: float = 1_800_000_000.0) -> dict[str, Any]:
    return {"resultType": "vector", "result": [{"metric": m, "value": [at, str(v)]} for m, v in samples]}


def matrix(*series: tuple[dict[str, str], list[tuple[float, float | str]]]) -> dict[str, Any]:
    return {
        "resultType": "matrix",
        "result": [{"metric": m, "values": [[t, str(v)] for t, v in points]} for m, points in series],
    }


class FakePrometheus:
    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Answer] = {}  # (path, expr) -> data
        self.errors: dict[str, tuple[int, dict[str, Any]]] = {}  # expr -> (status, body)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.down = False
        self.transport = httpx.MockTransport(self._handle)

    def on(self, path: str, expr: str, data: Answer) -> None:
        self.answers[(path, expr)] = data

    def refuse(self, expr: str, message: str, status: int = 400, error_type: str = "bad_data") -> None:
        self.errors[expr] = (status, {"status": "error", "errorType": error_type, "error": message})

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def params(self, path: str) -> list[dict[str, str]]:
        return [params for p, params in self.requests if p == path]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        params = dict(request.url.params)
        path = request.url.path
        self.requests.append((path, params))
        expr = params.get("query", params.get("match[]", ""))
        if expr in self.errors:
            status, body = self.errors[expr]
            return httpx.Response(status, json=body)
        data = self.answers.get((path, expr))
        if data is None:
            if path.startswith("/api/v1/label/") or path == "/api/v1/query_exemplars":
                data = []
            elif path == "/api/v1/query_range":
                data = {"resultType": "matrix", "result": []}
            else:
                data = {"resultType": "vector", "result": []}
        elif callable(data):
            data = data(params)
        return httpx.Response(200, json={"status": "success", "data": data})
