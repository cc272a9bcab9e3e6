"""The ground truth of a load: what it sent and what the answers prove the platform did.

``Tally`` counts each answered request under (method, the gateway's route template, status), the
labels of the gateway's ``http_server_request_duration_seconds``, so it is what a dashboard is checked
against. ``Domain`` keeps what the answers prove the platform did (tokens, logins, imports, sagas):
the ground truth of the domain dashboards.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty list."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


FILE_ENDS = ("completed", "partial", "failed")  # automation-services' final import statuses
SAGA_ENDS = ("completed", "compensated", "failed")  # saga-orchestrator's final saga statuses
PENDING = "pending"  # accepted, but no answer has shown it ended yet


def _unproven(response: httpx.Response | None) -> bool:
    # A 4xx is a refusal before any work; a 5xx or no answer may come after the work was done.
    return response is None or response.status_code >= 500


def _count(value: Any) -> int:
    return value if isinstance(value, int) else 0  # a field missing from an answer proves nothing


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or an empty one: a body that is not an object proves nothing."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass
class Domain:
    """What the platform's answers prove it did: the ground truth of the domain dashboards.

    Only an answer counts: tokens from a chat answered 200, an import's outcome once a polled
    status shows it. A request answered 5xx or not at all proves nothing either way (the platform
    may have done the work before failing), so it is counted in ``unproven`` instead."""

    chats: int = 0  # POST /api/chat answered 200
    tokens: Counter[str] = field(default_factory=Counter)  # input, output: those answers' usage
    completions: int = 0  # the model's answers within those chats (their steps)
    tool_calls: Counter[tuple[str, bool]] = field(default_factory=Counter)  # (tool, ok) as answered
    registered: int = 0
    logins: Counter[str] = field(default_factory=Counter)  # by auth_attempts_total's outcome
    tokens_issued: Counter[str] = field(default_factory=Counter)  # access, refresh: in login answers
    files: Counter[str] = field(default_factory=Counter)  # accepted uploads by last polled status
    rows: Counter[str] = field(default_factory=Counter)  # their rows: imported, rejected, pending
    sagas: Counter[str] = field(default_factory=Counter)  # started sagas by last answered status
    unproven: Counter[str] = field(default_factory=Counter)  # chat, register, login, upload, saga

    def chat(self, response: httpx.Response | None) -> None:
        if _unproven(response):
            self.unproven["chat"] += 1
            return
        if response.status_code != 200:
            return
        body = json_body(response)
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        self.chats += 1
        self.tokens["input"] += _count(usage.get("input_tokens"))
        self.tokens["output"] += _count(usage.get("output_tokens"))
        self.completions += _count(body.get("steps"))
        for call in body.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("tool"), str):
                self.tool_calls[(call["tool"], call.get("ok") is True)] += 1

    def register(self, response: httpx.Response | None) -> None:
        if _unproven(response):
            self.unproven["register"] += 1
        elif response.status_code == 201:
            self.registered += 1

    def login(self, response: httpx.Response | None) -> None:
        if _unproven(response):
            self.unproven["login"] += 1
            return
        status, body = response.status_code, json_body(response)
        if status == 200:
            self.logins["success"] += 1
            self.tokens_issued.update(
                t for t in ("access", "refresh") if isinstance(body.get(f"{t}_token"), str)
            )
        elif status == 401:
            self.logins["invalid_credentials"] += 1
        elif status == 429 and body.get("error") == "too_many_attempts":  # the account's lockout
            self.logins["rate_limited"] += 1

    def upload(self, response: httpx.Response | None, rows: int) -> str | None:
        """Counts an accepted file as pending; answers its id, to poll."""
        if _unproven(response):
            self.unproven["upload"] += 1
            return None
        file_id = json_body(response).get("id")
        if not response.is_success or not isinstance(file_id, str | int):
            return None
        self.files[PENDING] += 1
        self.rows[PENDING] += rows
        return str(file_id)

    def file_polled(self, response: httpx.Response | None, rows: int) -> None:
        body = json_body(response) if response is not None and response.status_code == 200 else {}
        if body.get("status") in FILE_ENDS:
            self.files[PENDING] -= 1
            self.files[body["status"]] += 1
            self.rows[PENDING] -= rows
            self.rows["imported"] += _count(body.get("rows_imported"))
            self.rows["rejected"] += _count(body.get("rows_failed"))

    def saga(self, response: httpx.Response | None) -> str | None:
        """Counts a started saga under its answered status; answers its id while it is pending."""
        if _unproven(response):
            self.unproven["saga"] += 1
            return None
        body = json_body(response)
        if not response.is_success or not isinstance(body.get("id"), str):
            return None
        ended = body.get("status") in SAGA_ENDS
        self.sagas[body["status"] if ended else PENDING] += 1
        return None if ended else body["id"]

    def saga_polled(self, response: httpx.Response | None) -> None:
        body = json_body(response) if response is not None and response.status_code == 200 else {}
        if body.get("status") in SAGA_ENDS:
            self.sagas[PENDING] -= 1
            self.sagas[body["status"]] += 1

    def as_json(self) -> dict[str, Any]:
        tool_calls: dict[str, dict[str, int]] = defaultdict(lambda: {"ok": 0, "error": 0})
        for (tool, ok), n in sorted(self.tool_calls.items()):
            tool_calls[tool]["ok" if ok else "error"] += n

        def counts(counter: Counter[str]) -> dict[str, int]:
            return dict(sorted((+counter).items()))  # without the zeros a polled ending leaves

        return {
            "chats": self.chats,
            "tokens": counts(self.tokens),
            "completions": self.completions,
            "tool_calls": dict(tool_calls),
            "registered": self.registered,
            "logins": counts(self.logins),
            "tokens_issued": counts(self.tokens_issued),
            "files": counts(self.files),
            "rows": counts(self.rows),
            "sagas": counts(self.sagas),
            "unproven": counts(self.unproven),
        }


@dataclass
class Tally:
    """Everything sent and answered, by (method, route, status); ``status`` None: no answer."""

    counts: Counter[tuple[str, str, int | None, str | None]] = field(default_factory=Counter)
    as_expected: Counter[tuple[str, str, int | None, str | None]] = field(default_factory=Counter)
    latencies: defaultdict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    domain: Domain = field(default_factory=Domain)
    planned: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    ok: int = 0
    errors: int = 0

    def record(
        self,
        method: str,
        route: str,
        status: int | None,
        seconds: float,
        *,
        ok: bool,
        error: str | None = None,
    ) -> None:
        key = (method, route, status, error)
        self.counts[key] += 1
        self.as_expected[key] += ok
        self.latencies[(method, route)].append(seconds)
        if ok:
            self.ok += 1
        else:
            self.errors += 1

    def as_json(self) -> dict[str, Any]:
        def order(key: tuple) -> tuple:
            method, route, status, error = key
            return (route, method, status or 0, error or "")

        requests = [
            {
                "method": m,
                "route": r,
                "status": s,
                "error": e,
                "count": n,
                "ok": self.as_expected[(m, r, s, e)],
            }
            for (m, r, s, e), n in sorted(self.counts.items(), key=lambda item: order(item[0]))
        ]
        latency = []
        for (method, route), values in sorted(
            self.latencies.items(), key=lambda item: (item[0][1], item[0][0])
        ):
            ordered = sorted(values)
            latency.append(
                {
                    "method": method,
                    "route": route,
                    "count": len(ordered),
                    "p50_ms": round(percentile(ordered, 0.5) * 1000, 1),
                    "p95_ms": round(percentile(ordered, 0.95) * 1000, 1),
                }
            )
        flows = {
            flow: {"planned": n, "skipped": self.skipped[flow]} for flow, n in sorted(self.planned.items())
        }
        totals = {
            "actions": sum(self.planned.values()),
            "skipped": sum(self.skipped.values()),
            "sent": self.sent,
            "answered": sum(n for (_, _, status, _), n in self.counts.items() if status is not None),
            "ok": self.ok,
            "errors": self.errors,
        }
        return {
            "requests": requests,
            "latency": latency,
            "flows": flows,
            "totals": totals,
            "domain": self.domain.as_json(),
        }
