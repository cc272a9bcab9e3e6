"""``airscope load``: realistic mixed traffic through the api-gateway, and exactly what it sent.

Every flow the gateway serves, in a weighted mix (``WEIGHTS``): chat messages that make the LLM
stand-in call MCP tools (``standins/llm/rules.py``), Airtable reads and now and then a record
created in the seeded demo base, registrations, logins and wrong passwords, CSV uploads whose
columns are a seeded table's (polled once), onboarding sagas (polled once), and the aggregated health.
The sagas run in the stand-in's load base (``LOAD_BASE_ID``): each adds a "<workspace> Tasks" table,
and in the demo base they would bury the three tables its chat answers and the docs name.

Open loop: action ``i`` starts at ``i / rps`` whatever the earlier ones are doing. A closed loop
would slow down with the platform and hide its latency (coordinated omission). At most
``max_in_flight`` actions run at once; an action due while that many run is counted as skipped,
never queued, so a stalled platform cannot pile up an unbounded backlog here.

Deterministic: every random choice is drawn from ``Random(seed)`` when the action is planned, in
schedule order, so a seed plans the same actions whatever the platform answers. Only names that must
be fresh on every run (emails, workspace names) carry a per-run tag.

The summary counts each answered request under (method, the gateway's route template, status), the
labels of the gateway's ``http_server_request_duration_seconds``, so it is the ground truth a
dashboard is checked against. The reachability probe at the start (``GET /health/live``) is not in it.
Beside it, ``Domain`` keeps what the answers prove the platform did (tokens, logins, imports, sagas):
the ground truth of the domain dashboards.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json
import math
import os
import random
import re
import secrets
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import click
import httpx

import airscope
from airscope.local import paths, ports
from airscope.standins.airtable.seed import BASE_ID, LOAD_BASE_ID, SeedTable
from airscope.standins.airtable.seed import TABLES as SEED_TABLES

DEFAULT_GATEWAY_PORT = 7000
API_KEY_FILE = "api-key"
HEALTH_ROUTE = "/api/health"  # served by the gateway itself, not in its proxy table
UNMATCHED_ROUTE = "_unmatched"  # the kit's label for a path no route matched

# Chat and Airtable reads are what users mostly do; a saga is a rare, heavy operation.
WEIGHTS = {"chat": 30, "records": 30, "auth": 15, "uploads": 10, "health": 10, "sagas": 5}
# Records: reads dominate; a write now and then (it also invalidates the gateway's read cache).
RECORD_KINDS = {"list_bases": 15, "list_tables": 20, "list_records": 55, "create_record": 10}
AUTH_KINDS = {"register": 25, "login": 55, "wrong_password": 20}
TOKEN_SHARE = 0.3  # authenticated actions sent with a login's bearer token instead of the API key
SESSION_READ_SHARE = 0.1  # chats followed by a read of their session's history
# Wrong passwords per account: far below platform-services' lockout (5 in 15 minutes), so each one
# is answered 401, never 429.
MAX_WRONG_PER_ACCOUNT = 2
WRONG_PASSWORD = "not-the-password"
TOKEN_MARGIN_SECONDS = 30  # a token this close to expiry is not used
# Above the gateway's 60 s chat timeout, so its 504 comes through rather than a client timeout.
REQUEST_TIMEOUT = httpx.Timeout(70.0, connect=5.0)
PROBE_TIMEOUT_SECONDS = 5.0
UPLOAD_POLL_DELAY_SECONDS = 0.5
DRAIN_TIMEOUT_SECONDS = 75.0  # waiting for the last in-flight actions, above REQUEST_TIMEOUT

TABLES = {table.name: table for table in SEED_TABLES}

# Each one makes the LLM stand-in call tools (see standins/llm/rules.py), except the last.
CHAT_MESSAGES = (
    "Which bases do I have?",
    "List my bases, please.",
    f"What tables are in base {BASE_ID}?",
    "Show me the schema of my base.",
    "How many records are in Orders?",
    f"How many customers are there in {BASE_ID}?",
    "Count the products.",
    "Find customers named Ada",
    'Search orders for "Grace Hopper"',
    "Show the products called Sensor Kit",
    "Hello! What can you do?",
)

OK = range(200, 300)
AUTHENTICATED_FLOWS = frozenset({"chat", "records", "uploads", "sagas"})  # auth and health are public


# The plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One planned user action: ``flow`` of ``WEIGHTS``, ``kind`` its variant, ``params`` drawn."""

    seq: int
    flow: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Mix:
    """Plans actions one after another from ``Random(seed)``; ``tag`` makes names unique per run."""

    def __init__(self, seed: int, tag: str, weights: dict[str, int] = WEIGHTS) -> None:
        self.rng = random.Random(seed)
        self.tag = tag
        self.weights = weights
        self.seq = 0

    def next(self) -> Action:
        seq, self.seq = self.seq, self.seq + 1
        flow = _pick(self.rng, self.weights)
        kind, params = getattr(self, "_" + flow)(seq)
        if flow in AUTHENTICATED_FLOWS:
            params["use_token"] = self.rng.random() < TOKEN_SHARE
        return Action(seq, flow, kind, params)

    def _chat(self, seq: int) -> tuple[str, dict[str, Any]]:
        return "chat", {
            "message": self.rng.choice(CHAT_MESSAGES),
            "read_session": self.rng.random() < SESSION_READ_SHARE,
        }

    def _records(self, seq: int) -> tuple[str, dict[str, Any]]:
        kind = _pick(self.rng, RECORD_KINDS)
        if kind == "list_records":
            return kind, {
                "table": self.rng.choice(list(TABLES)),
                "max_records": self.rng.choice((10, 25, 50)),
            }
        if kind == "create_record":
            table = TABLES[self.rng.choice(list(TABLES))]
            return kind, {"table": table.name, "fields": fake_row(table, self.rng, f"{self.tag}-{seq}")}
        return kind, {}

    def _auth(self, seq: int) -> tuple[str, dict[str, Any]]:
        # Every auth action carries a fresh account: a login finding none registered yet registers it.
        return _pick(self.rng, AUTH_KINDS), {
            "email": f"load-{self.tag}-{seq}@example.com",
            "password": f"load-{self.tag}-{seq}-{self.rng.randrange(10**6):06d}",
            "pick": self.rng.random(),
        }

    def _uploads(self, seq: int) -> tuple[str, dict[str, Any]]:
        table = TABLES[self.rng.choice(list(TABLES))]
        rows = [fake_row(table, self.rng, f"{self.tag}-{seq}-{i}") for i in range(self.rng.randint(1, 5))]
        return "upload", {
            "table": table.name,
            "filename": f"load-{self.tag}-{seq}.csv",
            "csv": to_csv(table, rows),
            "rows": len(rows),
        }

    def _health(self, seq: int) -> tuple[str, dict[str, Any]]:
        return "health", {}

    def _sagas(self, seq: int) -> tuple[str, dict[str, Any]]:
        return "saga", {"workspace_name": f"load-{self.tag}-{seq}"}


def fake_row(table: SeedTable, rng: random.Random, label: str) -> dict[str, Any]:
    """A row every field of ``table`` accepts as is, built from the seed's field types."""
    row: dict[str, Any] = {}
    for spec in table.fields:
        if spec.type == "email":
            row[spec.name] = f"load-{label}@example.com"
        elif spec.type == "number":
            precision = (spec.options or {}).get("precision", 0)
            row[spec.name] = round(rng.uniform(1, 500), precision) if precision else rng.randint(1, 50)
        elif spec.type == "singleSelect":
            row[spec.name] = rng.choice([choice["name"] for choice in spec.options["choices"]])
        elif spec.type == "date":
            row[spec.name] = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        else:
            row[spec.name] = f"Load {spec.name} {label}"
    return row


def to_csv(table: SeedTable, rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[spec.name for spec in table.fields], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# Pacing --------------------------------------------------------------------------------------


async def schedule(
    rps: float,
    duration: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[int]:
    """Yields 0, 1, 2... each at ``start + i / rps`` while that is within ``duration``. A tick that
    comes late fires at once and the ones after it keep their own times: the rate never drifts."""
    start = clock()
    i = 0
    while i / rps < duration:
        delay = start + i / rps - clock()
        if delay > 0:
            await sleep(delay)
        yield i
        i += 1


# Counting ------------------------------------------------------------------------------------


@functools.cache
def _gateway_routes() -> tuple[tuple[re.Pattern[str], str, Collection[str]], ...]:
    # The gateway's own table, so the labels here are the ones its metrics carry. Imported on first
    # use: the gateway's modules take half a second to import, and every `airscope` command loads this.
    from starlette.routing import compile_path

    from airscope.services.api_gateway.proxy import ROUTES

    table = [(route.template, route.methods) for route in ROUTES] + [(HEALTH_ROUTE, ("GET",))]
    return tuple((compile_path(template)[0], template, methods) for template, methods in table)


def gateway_route(method: str, path: str) -> str:
    """The route template the gateway matches ``method path`` to (Starlette's rule: the first route
    matching path and method, else the first matching the path alone, which answers 405)."""
    by_path = None
    for pattern, template, methods in _gateway_routes():
        if pattern.match(path):
            if method in methods:
                return template
            by_path = by_path or template
    return by_path or UNMATCHED_ROUTE


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
        body = _json(response)
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
        status, body = response.status_code, _json(response)
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
        file_id = _json(response).get("id")
        if not response.is_success or not isinstance(file_id, str | int):
            return None
        self.files[PENDING] += 1
        self.rows[PENDING] += rows
        return str(file_id)

    def file_polled(self, response: httpx.Response | None, rows: int) -> None:
        body = _json(response) if response is not None and response.status_code == 200 else {}
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
        body = _json(response)
        if not response.is_success or not isinstance(body.get("id"), str):
            return None
        ended = body.get("status") in SAGA_ENDS
        self.sagas[body["status"] if ended else PENDING] += 1
        return None if ended else body["id"]

    def saga_polled(self, response: httpx.Response | None) -> None:
        body = _json(response) if response is not None and response.status_code == 200 else {}
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


# Sending -------------------------------------------------------------------------------------


@dataclass
class Account:
    email: str
    password: str
    wrong: int = 0  # wrong passwords sent for it


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class Driver:
    """Performs planned actions against the gateway, keeping what later actions need (registered
    accounts, the newest login token) and counting every request in ``tally``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_key: str,
        tally: Tally,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_delay: float = UPLOAD_POLL_DELAY_SECONDS,
    ) -> None:
        self.client = client
        self.api_key = api_key
        self.tally = tally
        self.clock = clock
        self.sleep = sleep
        self.poll_delay = poll_delay
        self.accounts: list[Account] = []
        self.token: tuple[str, float] | None = None  # (access token, when it expires)

    async def perform(self, action: Action) -> None:
        await getattr(self, "_" + action.kind)(action.params)

    async def send(
        self,
        method: str,
        path: str,
        *,
        authenticated: bool = True,
        use_token: bool = False,
        expect: Collection[int] = OK,
        **request: Any,
    ) -> httpx.Response | None:
        route = gateway_route(method, path)
        headers = self._credentials(use_token) if authenticated else {}
        self.tally.sent += 1
        started = self.clock()
        try:
            response = await self.client.request(method, path, headers=headers, **request)
        except httpx.HTTPError as exc:  # no answer: refused, reset, timed out
            self.tally.record(method, route, None, self.clock() - started, ok=False, error=type(exc).__name__)
            return None
        status = response.status_code
        self.tally.record(method, route, status, self.clock() - started, ok=status in expect)
        return response

    def _credentials(self, use_token: bool) -> dict[str, str]:
        if use_token and self.token and self.token[1] - self.clock() > TOKEN_MARGIN_SECONDS:
            return {"Authorization": f"Bearer {self.token[0]}"}
        return {"X-API-Key": self.api_key}

    async def _chat(self, params: dict[str, Any]) -> None:
        response = await self.send(
            "POST", "/api/chat", json={"message": params["message"]}, use_token=params["use_token"]
        )
        self.tally.domain.chat(response)
        session_id = _json(response).get("session_id") if response and response.is_success else None
        if params["read_session"] and isinstance(session_id, str):
            await self.send("GET", f"/api/chat/sessions/{session_id}", use_token=params["use_token"])

    async def _list_bases(self, params: dict[str, Any]) -> None:
        await self.send("GET", "/api/airtable/bases", use_token=params["use_token"])

    async def _list_tables(self, params: dict[str, Any]) -> None:
        await self.send("GET", f"/api/airtable/bases/{BASE_ID}/tables", use_token=params["use_token"])

    async def _list_records(self, params: dict[str, Any]) -> None:
        await self.send(
            "GET",
            f"/api/airtable/bases/{BASE_ID}/tables/{params['table']}/records",
            params={"maxRecords": params["max_records"]},
            use_token=params["use_token"],
        )

    async def _create_record(self, params: dict[str, Any]) -> None:
        await self.send(
            "POST",
            f"/api/airtable/bases/{BASE_ID}/tables/{params['table']}/records",
            json={"records": [{"fields": params["fields"]}]},
            use_token=params["use_token"],
        )

    async def _register(self, params: dict[str, Any]) -> None:
        account = Account(params["email"], params["password"])
        body = {"email": account.email, "password": account.password, "display_name": "Load Test"}
        response = await self.send("POST", "/api/auth/register", json=body, authenticated=False)
        self.tally.domain.register(response)
        if response is not None and response.is_success:
            self.accounts.append(account)

    async def _login(self, params: dict[str, Any]) -> None:
        if not self.accounts:
            await self._register(params)
            return
        account = self.accounts[int(params["pick"] * len(self.accounts))]
        body = {"email": account.email, "password": account.password}
        response = await self.send("POST", "/api/auth/login", json=body, authenticated=False)
        self.tally.domain.login(response)
        tokens = _json(response) if response is not None and response.is_success else {}
        if isinstance(tokens.get("access_token"), str):
            self.token = (tokens["access_token"], self.clock() + float(tokens.get("expires_in", 0)))

    async def _wrong_password(self, params: dict[str, Any]) -> None:
        candidates = [account for account in self.accounts if account.wrong < MAX_WRONG_PER_ACCOUNT]
        if not candidates:
            await self._register(params)
            return
        account = candidates[int(params["pick"] * len(candidates))]
        account.wrong += 1  # before sending: concurrent actions must not push it past the limit
        body = {"email": account.email, "password": WRONG_PASSWORD}
        response = await self.send("POST", "/api/auth/login", json=body, authenticated=False, expect=(401,))
        self.tally.domain.login(response)

    async def _upload(self, params: dict[str, Any]) -> None:
        response = await self.send(
            "POST",
            "/api/automation/files",
            files={"file": (params["filename"], params["csv"].encode(), "text/csv")},
            data={"base_id": BASE_ID, "table": params["table"]},
            use_token=params["use_token"],
        )
        file_id = self.tally.domain.upload(response, params["rows"])
        if file_id is not None:
            await self.sleep(self.poll_delay)
            polled = await self.send("GET", f"/api/automation/files/{file_id}", use_token=params["use_token"])
            self.tally.domain.file_polled(polled, params["rows"])

    async def _health(self, params: dict[str, Any]) -> None:
        await self.send("GET", HEALTH_ROUTE, authenticated=False)

    async def _saga(self, params: dict[str, Any]) -> None:
        response = await self.send(
            "POST",
            "/api/sagas/onboarding",
            json={"workspace_name": params["workspace_name"], "base_id": LOAD_BASE_ID},
            use_token=params["use_token"],
        )
        # The saga runs on after its 202: one look later tells how it ended, as for an upload.
        saga_id = self.tally.domain.saga(response)
        if saga_id is not None:
            await self.sleep(self.poll_delay)
            polled = await self.send("GET", f"/api/sagas/{saga_id}", use_token=params["use_token"])
            self.tally.domain.saga_polled(polled)


# The run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    gateway: str
    api_key: str
    rps: float = 5.0
    duration: float = 60.0
    seed: int = 0
    max_in_flight: int = 50


class Load:
    """One run: plans, paces and performs actions; ``tally`` holds what was sent so far."""

    def __init__(
        self,
        settings: Settings,
        *,
        tag: str | None = None,
        weights: dict[str, int] = WEIGHTS,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_delay: float = UPLOAD_POLL_DELAY_SECONDS,
    ) -> None:
        self.settings = settings
        self.mix = Mix(settings.seed, tag or secrets.token_hex(4), weights)
        self.tally = Tally()
        self.transport = transport
        self.clock = clock
        self.sleep = sleep
        self.poll_delay = poll_delay
        self.in_flight: set[asyncio.Task[None]] = set()
        self.crashes: list[BaseException] = []

    async def run(self, progress: Progress | None = None) -> None:
        limits = httpx.Limits(
            max_connections=self.settings.max_in_flight, max_keepalive_connections=self.settings.max_in_flight
        )
        async with httpx.AsyncClient(
            base_url=self.settings.gateway,
            transport=self.transport,
            limits=limits,
            timeout=REQUEST_TIMEOUT,
            headers={"User-Agent": f"airscope-load/{airscope.__version__}"},
        ) as client:
            await self._probe(client)
            driver = Driver(
                client,
                self.settings.api_key,
                self.tally,
                clock=self.clock,
                sleep=self.sleep,
                poll_delay=self.poll_delay,
            )
            shown = asyncio.create_task(progress.run()) if progress else None
            try:
                async for _ in schedule(
                    self.settings.rps, self.settings.duration, clock=self.clock, sleep=self.sleep
                ):
                    self._start(driver, self.mix.next())
                if self.in_flight:
                    await asyncio.wait(self.in_flight, timeout=DRAIN_TIMEOUT_SECONDS)
            finally:
                for task in self.in_flight:
                    task.cancel()
                if shown:
                    shown.cancel()
        if self.crashes:  # a bug in this module, not the platform's answer: fail loudly
            raise self.crashes[0]

    async def _probe(self, client: httpx.AsyncClient) -> None:
        try:
            await client.get("/health/live", timeout=PROBE_TIMEOUT_SECONDS)
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"the api-gateway at {self.settings.gateway} is not reachable ({type(exc).__name__}: {exc}); "
                "start the platform with `make up`, or point --gateway at a running gateway"
            ) from None

    def _start(self, driver: Driver, action: Action) -> None:
        self.tally.planned[action.flow] += 1
        if len(self.in_flight) >= self.settings.max_in_flight:
            self.tally.skipped[action.flow] += 1
            return
        task = asyncio.create_task(driver.perform(action))
        self.in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.crashes.append(task.exception())


class Progress:
    """elapsed, sent, ok, errors, skipped and the current answer rate on stderr: one line rewritten in
    place on a terminal, else a line every ``log_every`` seconds (a log stays readable)."""

    def __init__(
        self,
        tally: Tally,
        duration: float,
        *,
        stream: TextIO | None = None,
        interval: float = 0.5,
        log_every: float = 10.0,
    ) -> None:
        self.tally = tally
        self.duration = duration
        self.stream = stream or sys.stderr
        self.interval = interval if self.stream.isatty() else log_every
        self.started = time.monotonic()
        self.last = (self.started, 0)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.show()

    def line(self, now: float) -> str:
        answered = self.tally.ok + self.tally.errors
        since, before = self.last
        rate = (answered - before) / (now - since) if now > since else 0.0
        self.last = (now, answered)
        return (
            f"{min(now - self.started, self.duration):5.0f}s/{self.duration:.0f}s  sent {self.tally.sent}  "
            f"ok {self.tally.ok}  errors {self.tally.errors}  skipped {sum(self.tally.skipped.values())}  "
            f"{rate:.1f} rps"
        )

    def show(self, final: bool = False) -> None:
        text = self.line(time.monotonic())
        if self.stream.isatty():
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


# The command ---------------------------------------------------------------------------------


class Duration(click.ParamType):
    """Seconds, written ``90``, ``30s``, ``2m``, ``1h`` or ``1.5m``."""

    name = "duration"
    _FORM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
    _UNITS = {None: 1, "s": 1, "m": 60, "h": 3600}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            seconds = float(value)
        elif match := self._FORM.match(str(value)):
            seconds = float(match.group(1)) * self._UNITS[match.group(2)]
        else:
            self.fail(f"{value!r} is not a duration such as 30s, 2m or 90", param, ctx)
        if seconds <= 0:
            self.fail("the duration must be more than 0", param, ctx)
        return seconds


def default_gateway() -> str:
    return f"http://127.0.0.1:{ports.port_for('api-gateway', DEFAULT_GATEWAY_PORT)}"


def api_key() -> str:
    """$AIRSCOPE_API_KEY, else the key `make up` keeps in ``paths.home()/api-key``."""
    from airscope.local.runner import API_KEY_ENV  # the runner owns the variable; imported late (heavy)

    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV]
    kept = paths.home() / API_KEY_FILE
    try:
        key = kept.read_text().strip()
    except FileNotFoundError:
        key = ""
    if not key:
        raise click.ClickException(
            f"no API key: set {API_KEY_ENV}, or run `make up`, which keeps the platform's key in {kept}"
        )
    return key


def render(summary: dict[str, Any]) -> str:
    rows = [("method", "route", "status", "count", "ok")]
    for row in summary["requests"]:
        status = str(row["status"]) if row["status"] is not None else f"no answer ({row['error']})"
        rows.append((row["method"], row["route"], status, str(row["count"]), str(row["ok"])))
    latency = [("method", "route", "count", "p50 ms", "p95 ms")]
    for row in summary["latency"]:
        latency.append(
            (row["method"], row["route"], str(row["count"]), f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}")
        )
    totals = summary["totals"]
    lines = [
        f"{summary['gateway']}: {summary['elapsed_seconds']:.1f}s at {summary['rps']:g} actions/s, "
        f"seed {summary['seed']}" + ("  (interrupted)" if summary["interrupted"] else ""),
        "",
        *_table(rows),
        "",
        f"totals: {totals['actions']} actions planned, {totals['skipped']} skipped (at the in-flight limit "
        f"of {summary['max_in_flight']}); {totals['sent']} requests sent, {totals['answered']} answered, "
        f"{totals['ok']} as expected, {totals['errors']} errors",
        "",
        "client-side latency",
        *_table(latency),
    ]
    return "\n".join(lines)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def send(gateway: str, api_key: str, rps: float, duration: float) -> Tally:
    """A load with a random seed and its progress line, for the commands that check what it did
    (`airscope drill quiet`, `airscope check --live`); answers what it sent."""
    settings = Settings(
        gateway=gateway,
        api_key=api_key,
        rps=rps,
        duration=duration,
        seed=random.SystemRandom().randrange(2**31),
    )
    run = Load(settings)
    asyncio.run(run.run(Progress(run.tally, duration)))
    return run.tally


@click.command("load")
@click.option(
    "--rps",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Actions started per second (open loop; some actions send two requests).",
)
@click.option(
    "--duration", type=Duration(), default="60s", show_default=True, help="How long: 30s, 2m, 90..."
)
@click.option(
    "--seed", type=int, default=None, help="Plan the same actions again (default: a random seed, printed)."
)
@click.option(
    "--max-in-flight",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Actions running at once; one due beyond that is skipped and counted.",
)
@click.option(
    "--gateway",
    default=None,
    help="The api-gateway's URL [default: http://127.0.0.1:$AIRSCOPE_PORT_API_GATEWAY or 7000].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def load_command(
    rps: float, duration: float, seed: int | None, max_in_flight: int, gateway: str | None, as_json: bool
) -> None:
    """Realistic mixed traffic through the gateway (chat, Airtable records, auth, uploads, sagas,
    health), then exactly what was sent: counts per method, route and status, and latency per route."""
    settings = Settings(
        gateway=(gateway or default_gateway()).rstrip("/"),
        api_key=api_key(),
        rps=rps,
        duration=duration,
        seed=seed if seed is not None else random.SystemRandom().randrange(2**31),
        max_in_flight=max_in_flight,
    )
    run = Load(settings)
    progress = Progress(run.tally, duration)
    started_at, began = _now(), time.monotonic()
    interrupted = False
    try:
        asyncio.run(run.run(progress))
    except KeyboardInterrupt:  # Ctrl-C: still say what was sent until then
        interrupted = True
    if run.tally.sent:
        progress.show(final=True)
    summary = {
        "gateway": settings.gateway,
        "seed": settings.seed,
        "rps": settings.rps,
        "duration_seconds": settings.duration,
        "max_in_flight": settings.max_in_flight,
        "started_at": started_at,
        "ended_at": _now(),
        "elapsed_seconds": round(time.monotonic() - began, 3),
        "interrupted": interrupted,
        **run.tally.as_json(),
    }
    click.echo(json.dumps(summary, indent=2) if as_json else render(summary))
