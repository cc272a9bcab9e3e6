"""`airscope load` against a small in-process fake gateway: the mix, the pacing, the in-flight bound,
and a summary that counts exactly what the gateway saw."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airscope.cli import main
from airscope.errors import AirscopeError
from airscope.local import load
from airscope.services.saga_orchestrator.app import OnboardingRequest
from airscope.standins.airtable import create_app as airtable_standin
from airscope.standins.airtable.seed import BASE_ID, LOAD_BASE_ID
from airscope.standins.airtable.seed import TABLES as SEED_TABLES
from airscope.standins.llm.rules import decide
from tests.support import free_port, serve_app

KEY = "test-key"

# The gateway's route templates, written out here so the module's mapping is checked, not copied.
TEMPLATES = (
    (re.compile(r"^/api/chat$"), "/api/chat"),
    (re.compile(r"^/api/chat/.+"), "/api/chat/{path:path}"),
    (re.compile(r"^/api/airtable/.+"), "/api/airtable/{path:path}"),
    (re.compile(r"^/api/auth/register$"), "/api/auth/register"),
    (re.compile(r"^/api/auth/login$"), "/api/auth/login"),
    (re.compile(r"^/api/automation/.+"), "/api/automation/{path:path}"),
    (re.compile(r"^/api/sagas/.+"), "/api/sagas/{path:path}"),
    (re.compile(r"^/api/health$"), "/api/health"),
)


CHAT_ANSWER = {
    "usage": {"input_tokens": 120, "output_tokens": 9},
    "steps": 3,
    "tool_calls": [{"tool": "list_bases", "ok": True}, {"tool": "list_tables", "ok": False}],
}


class FakeGateway:
    """Answers like the platform behind the gateway would, and counts what it saw by route template."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str, int]] = Counter()
        self.users: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.by_bearer = 0
        self.file_rows: list[int] = []  # rows of each upload, in order
        self.saga_bodies: list[dict[str, Any]] = []

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path == "/health/live":
            return 200, {"status": "pass"}
        template = next(t for pattern, t in TEMPLATES if pattern.match(path))
        status, payload = self._route(method, path, template, headers, body)
        self.seen[(method, template, status)] += 1
        return status, payload

    def _route(self, method: str, path: str, template: str, headers: dict[str, str], body: bytes):
        if template in ("/api/auth/register", "/api/auth/login"):
            credentials = json.loads(body)
            email, password = credentials["email"], credentials["password"]
            if template == "/api/auth/register":
                if email in self.users:
                    return 409, {"error": "email_taken"}
                self.users[email] = password
                return 201, {"email": email}
            if self.users.get(email) != password:
                return 401, {"error": "invalid_credentials"}
            token = f"tok-{len(self.tokens)}"
            self.tokens.add(token)
            return 200, {"access_token": token, "expires_in": 900, "refresh_token": "r"}
        if template == "/api/health":
            return 200, {"status": "pass"}
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        if headers.get("x-api-key") != KEY and bearer not in self.tokens:
            return 401, {"error": "invalid_api_key"}
        self.by_bearer += bearer in self.tokens
        if template == "/api/chat":
            return 200, {"session_id": "s-1", "answer": "ok", **CHAT_ANSWER}
        if path == "/api/automation/files":
            csv_text = body.split(b"Content-Type: text/csv\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0]
            self.file_rows.append(len(csv_text.splitlines()) - 1)
            return 202, {"id": f"f-{len(self.file_rows)}", "status": "queued"}
        if path.startswith("/api/automation/files/"):  # every other file is still waiting when polled
            if int(path.rsplit("-", 1)[1]) % 2:
                return 200, {"status": "queued", "rows_imported": 0, "rows_failed": 0}
            return 200, {"status": "partial", "rows_imported": 2, "rows_failed": 1}
        if path == "/api/sagas/onboarding":
            self.saga_bodies.append(json.loads(body))
            return 202, {"id": "saga-1", "status": "running"}
        if path == "/api/sagas/saga-1":
            return 200, {"id": "saga-1", "status": "compensated"}
        return 200, {"ok": True}

    def handler(self, request: httpx.Request) -> httpx.Response:
        status, payload = self.answer(request.method, request.url.path, dict(request.headers), request.read())
        return httpx.Response(status, json=payload)


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def settings(**overrides: Any) -> load.Settings:
    return load.Settings(**{"gateway": "http://gateway.test", "api_key": KEY, **overrides})


# The mix ---------------------------------------------------------------------------------------


def test_the_mix_follows_the_weights():
    mix = load.Mix(seed=1, tag="t")
    plans = [mix.next() for _ in range(20_000)]
    flows = Counter(action.flow for action in plans)
    total_weight = sum(load.WEIGHTS.values())
    for flow, weight in load.WEIGHTS.items():
        assert flows[flow] / len(plans) == pytest.approx(weight / total_weight, abs=0.015), flow
    assert flows["sagas"] == min(flows.values())  # sagas least
    assert {flow for flow, _ in flows.most_common(2)} == {"chat", "records"}  # chat and records most
    auth = Counter(action.kind for action in plans if action.flow == "auth")
    assert set(auth) == {"register", "login", "wrong_password"}
    records = Counter(action.kind for action in plans if action.flow == "records")
    assert set(records) == set(load.RECORD_KINDS)


def test_a_seed_plans_the_same_actions_and_the_tag_only_renames():
    def plan(seed: int, tag: str) -> list[load.Action]:
        mix = load.Mix(seed, tag)
        return [mix.next() for _ in range(500)]

    def shape(plans: list[load.Action]) -> list[tuple[str, str]]:
        return [(action.flow, action.kind) for action in plans]

    plans = plan(7, "a")
    assert plans == plan(7, "a")
    renamed = plan(7, "b")
    assert shape(renamed) == shape(plans)
    assert renamed != plans  # emails, workspace names and generated rows carry the tag
    assert shape(plan(8, "a")) != shape(plans)


def test_names_that_must_be_fresh_are_unique_within_a_run():
    mix = load.Mix(seed=3, tag="run1")
    plans = [mix.next() for _ in range(2000)]
    emails = [a.params["email"] for a in plans if a.flow == "auth"]
    workspaces = [a.params["workspace_name"] for a in plans if a.flow == "sagas"]
    assert len(emails) == len(set(emails)) and all("run1" in e for e in emails)
    assert len(workspaces) == len(set(workspaces)) and all("run1" in w for w in workspaces)


def test_chat_messages_make_the_llm_standin_call_tools():
    tools = ["list_bases", "list_tables", "search_records", "count_records"]
    first_calls = {m: decide([{"role": "user", "content": m}], tools).tool_call for m in load.CHAT_MESSAGES}
    calling = [m for m, call in first_calls.items() if call is not None]
    assert len(calling) == len(load.CHAT_MESSAGES) - 1  # one plain question, answered without a tool
    # A read first: the base, the tables, or the table the question names (no write ever).
    assert {call.name for call in first_calls.values() if call} <= set(tools)


@pytest.fixture
def airtable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[TestClient]:
    monkeypatch.setenv("STANDIN_AIRTABLE_DB", str(tmp_path / "airtable.sqlite"))
    monkeypatch.setenv("STANDIN_AIRTABLE_RATE_LIMIT", "0")
    monkeypatch.delenv("STANDIN_AIRTABLE_TOKEN", raising=False)
    monkeypatch.delenv("STANDIN_LATENCY_MS", raising=False)
    with TestClient(airtable_standin(), headers={"Authorization": "Bearer t"}) as client:
        yield client


def test_generated_rows_fit_the_seeded_tables(airtable: TestClient):
    mix = load.Mix(seed=11, tag="t")
    creations = [a for a in (mix.next() for _ in range(600)) if a.kind == "create_record"]
    uploads = [a for a in (mix.next() for _ in range(600)) if a.kind == "upload"]
    assert {a.params["table"] for a in creations} == set(load.TABLES)
    for action in creations:  # without typecast: the values are of each field's own type
        answer = airtable.post(
            f"/v0/{BASE_ID}/{action.params['table']}",
            json={"records": [{"fields": action.params["fields"]}]},
        )
        assert answer.status_code == 200, answer.text
    for action in uploads:
        header = action.params["csv"].splitlines()[0].split(",")
        assert header == [spec.name for spec in load.TABLES[action.params["table"]].fields]
        assert 2 <= len(action.params["csv"].splitlines()) <= 6


# Pacing ----------------------------------------------------------------------------------------


async def ticks(rps: float, duration: float, stalls: dict[int, float] | None = None) -> list[float]:
    """When each tick came, from the start; ``stalls``: tick -> seconds the loop then spends."""
    clock, times = FakeClock(), []
    async for i in load.schedule(rps, duration, clock=clock, sleep=clock.sleep):
        times.append(clock.now - 1000.0)
        clock.now += (stalls or {}).get(i, 0.0)
    return times


def test_sagas_go_to_the_load_base_that_the_standin_seeds(airtable: TestClient):
    mix = load.Mix(seed=5, tag="t")
    sagas = [a for a in (mix.next() for _ in range(400)) if a.flow == "sagas"]
    assert sagas
    for action in sagas:  # what saga-orchestrator's POST /sagas/onboarding takes
        body = OnboardingRequest(workspace_name=action.params["workspace_name"], base_id=LOAD_BASE_ID)
        assert body.base_id == "appAirscopeLoad01"
    bases = [b["id"] for b in airtable.get("/v0/meta/bases").json()["bases"]]
    assert bases == [BASE_ID, LOAD_BASE_ID]
    tables = airtable.get(f"/v0/meta/bases/{BASE_ID}/tables").json()["tables"]
    assert [t["name"] for t in tables] == [t.name for t in SEED_TABLES]


def test_schedule_starts_each_action_at_its_own_time():
    assert asyncio.run(ticks(4, 2)) == pytest.approx([0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75])


def test_a_late_tick_fires_at_once_and_the_rate_does_not_drift():
    times = asyncio.run(ticks(10, 1, stalls={2: 0.35}))  # ticks 3, 4 and 5 come overdue
    assert len(times) == 10
    assert times[3:6] == pytest.approx([0.55, 0.55, 0.55])  # fired together, none dropped
    assert times[6:] == pytest.approx([0.6, 0.7, 0.8, 0.9])  # back on the original grid


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (load.percentile(values, 0.5), load.percentile(values, 0.95)) == (50.0, 95.0)
    assert load.percentile([0.3], 0.95) == 0.3


# A run against the fake gateway ------------------------------------------------------------------


def test_the_summary_counts_exactly_what_the_gateway_saw():
    fake, clock = FakeGateway(), FakeClock()
    run = load.Load(
        settings(rps=50, duration=8, seed=42),
        tag="t",
        transport=httpx.MockTransport(fake.handler),
        clock=clock,
        sleep=clock.sleep,
        poll_delay=0,
    )
    asyncio.run(run.run())
    summary = run.tally.as_json()

    counted = Counter({(r["method"], r["route"], r["status"]): r["count"] for r in summary["requests"]})
    assert counted == fake.seen
    assert {route for _, route, _ in counted} == {t for _, t in TEMPLATES}  # every flow was exercised
    totals = summary["totals"]
    assert totals["actions"] == 400 and totals["skipped"] == 0
    assert totals["sent"] == totals["answered"] == sum(fake.seen.values()) == totals["ok"]
    assert totals["errors"] == 0
    # The wrong passwords are refusals under their own status, and expected ones.
    (refused,) = [r for r in summary["requests"] if r["route"] == "/api/auth/login" and r["status"] == 401]
    assert refused["count"] == refused["ok"] > 0
    assert fake.by_bearer > 0  # some requests went with a login's token instead of the key
    latency = {(r["method"], r["route"]): r["count"] for r in summary["latency"]}
    assert sum(latency.values()) == totals["sent"]
    assert sum(flow["planned"] for flow in summary["flows"].values()) == 400

    text = load.render({**settings().__dict__, "elapsed_seconds": 8.0, "interrupted": False, **summary})
    assert re.search(r"^POST\s+/api/auth/login\s+401\s+\d+\s+\d+$", text, re.MULTILINE)
    assert "p95 ms" in text


def test_the_domain_is_what_the_answers_proved():
    fake, clock = FakeGateway(), FakeClock()
    run = load.Load(
        settings(rps=50, duration=8, seed=42),
        tag="t",
        transport=httpx.MockTransport(fake.handler),
        clock=clock,
        sleep=clock.sleep,
        poll_delay=0,
    )
    asyncio.run(run.run())
    domain = run.tally.as_json()["domain"]

    chats = fake.seen[("POST", "/api/chat", 200)]
    assert domain["chats"] == chats > 0
    assert domain["tokens"] == {"input": 120 * chats, "output": 9 * chats}
    assert domain["completions"] == 3 * chats
    assert domain["tool_calls"] == {
        "list_bases": {"ok": chats, "error": 0},
        "list_tables": {"ok": 0, "error": chats},
    }
    logins, refused = fake.seen[("POST", "/api/auth/login", 200)], fake.seen[("POST", "/api/auth/login", 401)]
    assert logins > 0 and refused > 0
    assert domain["logins"] == {"success": logins, "invalid_credentials": refused}
    assert domain["tokens_issued"] == {"access": logins, "refresh": logins}
    assert domain["registered"] == fake.seen[("POST", "/api/auth/register", 201)] > 0
    # Odd files were still queued when polled: accepted, their ending unknown.
    ended, waiting = fake.file_rows[1::2], fake.file_rows[0::2]
    assert domain["files"] == {"partial": len(ended), "pending": len(waiting)}
    assert domain["rows"] == {"imported": 2 * len(ended), "rejected": len(ended), "pending": sum(waiting)}
    started = fake.seen[("POST", "/api/sagas/{path:path}", 202)]
    assert domain["sagas"] == {"compensated": started} and started > 0
    # In the load base: the demo base keeps its three tables however many sagas run.
    assert len(fake.saga_bodies) == started
    assert {body["base_id"] for body in fake.saga_bodies} == {"appAirscopeLoad01"}
    assert domain["unproven"] == {}


def test_only_an_answer_proves_work_and_a_5xx_or_none_proves_neither_way():
    def answer(code: int, **body: Any) -> httpx.Response:
        return httpx.Response(code, json=body)

    domain = load.Domain()
    domain.chat(answer(200, usage={"input_tokens": 50, "output_tokens": 5}, steps=1, tool_calls=[]))
    domain.chat(answer(401, error="invalid_api_key"))  # refused before any work
    domain.chat(answer(504, error="upstream_timeout"))  # the model may have answered meanwhile
    domain.chat(None)
    assert (domain.chats, domain.tokens, domain.unproven["chat"]) == (1, {"input": 50, "output": 5}, 2)

    domain.login(answer(200, access_token="a", refresh_token="r", expires_in=900))
    domain.login(answer(401, error="invalid_credentials"))
    domain.login(answer(429, error="too_many_attempts"))  # platform-services locked the account
    domain.login(answer(429, error="rate_limited"))  # the gateway's limit: platform-services saw nothing
    domain.login(answer(502, error="upstream_unreachable"))
    assert domain.logins == {"success": 1, "invalid_credentials": 1, "rate_limited": 1}
    assert domain.tokens_issued == {"access": 1, "refresh": 1}
    assert domain.unproven["login"] == 1

    assert domain.upload(answer(202, id="f-1", status="queued"), rows=4) == "f-1"
    domain.file_polled(answer(200, status="processing"), rows=4)
    assert (domain.files, domain.rows) == ({"pending": 1}, {"pending": 4})
    domain.file_polled(answer(200, status="completed", rows_imported=4, rows_failed=0), rows=4)
    assert domain.upload(answer(415, error="unsupported_type"), rows=2) is None
    assert +domain.files == {"completed": 1} and +domain.rows == {"imported": 4}

    assert domain.saga(answer(201, id="s-1", status="completed")) is None  # ended: nothing to poll
    assert domain.saga(answer(202, id="s-2", status="running")) == "s-2"
    domain.saga_polled(answer(200, id="s-2", status="failed"))
    assert domain.saga(None) is None
    assert +domain.sagas == {"completed": 1, "failed": 1} and domain.unproven["saga"] == 1


def test_an_unexpected_answer_and_no_answer_are_errors():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health/live":
            return httpx.Response(200)
        if request.url.path == "/api/airtable/bases":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(503, json={"error": "upstream_unreachable"})

    clock = FakeClock()
    run = load.Load(
        settings(rps=10, duration=1),
        weights={"records": 1},
        transport=httpx.MockTransport(handler),
        clock=clock,
        sleep=clock.sleep,
    )
    asyncio.run(run.run())
    summary = run.tally.as_json()
    assert summary["totals"]["errors"] == summary["totals"]["sent"] == 10
    statuses = {(r["status"], r["error"]) for r in summary["requests"]}
    assert statuses <= {(503, None), (None, "ReadTimeout")} and (None, "ReadTimeout") in statuses


def test_actions_beyond_the_in_flight_bound_are_skipped_not_queued():
    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/health/live":
            await asyncio.sleep(0.2)  # real time, while the fake clock rushes through the schedule
        return httpx.Response(200, json={})

    clock = FakeClock()
    run = load.Load(
        settings(rps=1000, duration=0.02, max_in_flight=3),
        weights={"health": 1},
        transport=httpx.MockTransport(slow),
        clock=clock,
        sleep=clock.sleep,
    )
    asyncio.run(run.run())
    totals = run.tally.as_json()["totals"]
    assert (totals["actions"], totals["sent"], totals["skipped"]) == (20, 3, 17)
    assert run.tally.as_json()["flows"] == {"health": {"planned": 20, "skipped": 17}}


def test_an_unreachable_gateway_names_the_url_and_make_up():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    run = load.Load(settings(), transport=httpx.MockTransport(refuse))
    with pytest.raises(AirscopeError) as caught:
        asyncio.run(run.run())
    assert "http://gateway.test" in str(caught.value) and "make up" in str(caught.value)
    assert run.tally.sent == 0


# The command -----------------------------------------------------------------------------------


@pytest.fixture
def gateway_url() -> Iterator[str]:
    """The fake gateway served over a real socket, for the command as a user runs it."""
    fake = FakeGateway()

    async def endpoint(request: Request) -> Response:
        status, payload = fake.answer(
            request.method, request.url.path, dict(request.headers), await request.body()
        )
        return JSONResponse(payload, status_code=status)

    with serve_app(Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])) as url:
        yield url


def airscope_load(*args: str, env: dict[str, str | None]):
    """`airscope load ARGS` as a user runs it: the library's errors come out as the CLI prints them."""
    return CliRunner().invoke(main, ["load", *args], env=env)


def test_the_duration_follows_the_one_grammar_and_a_bare_number_is_seconds(gateway_url: str):
    env = {"AIRSCOPE_API_KEY": KEY}
    result = airscope_load("--gateway", gateway_url, "--rps", "10", "--duration", "0.5", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["duration_seconds"] == 0.5
    assert json.loads(result.stdout)["totals"]["actions"] == 5
    for refused in ("soon", "0s"):
        result = airscope_load("--gateway", gateway_url, "--duration", refused, env=env)
        assert result.exit_code == 2 and "--duration" in result.stderr, result.output


def test_the_command_runs_and_prints_json(gateway_url: str, tmp_path):
    (tmp_path / "api-key").write_text(KEY + "\n")  # as `make up` keeps it
    result = airscope_load(
        *("--gateway", gateway_url, "--rps", "20", "--duration", "1s", "--seed", "5", "--json"),
        env={"AIRSCOPE_HOME": str(tmp_path), "AIRSCOPE_API_KEY": None},
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["seed"] == 5 and summary["gateway"] == gateway_url
    assert summary["totals"]["actions"] == 20
    assert summary["totals"]["sent"] == sum(r["count"] for r in summary["requests"]) > 0
    assert summary["totals"]["errors"] == 0  # the key was read from the file and sent
    assert summary["domain"]["chats"] == sum(
        r["count"] for r in summary["requests"] if r["route"] == "/api/chat" and r["status"] == 200
    )
    assert summary["started_at"].endswith("Z") and summary["ended_at"] >= summary["started_at"]
    assert re.search(r"sent \d+\s+ok \d+\s+errors 0", result.stderr)  # the progress line


def test_the_command_names_the_url_when_nothing_listens():
    url = f"http://127.0.0.1:{free_port()}"
    result = airscope_load("--gateway", url, env={"AIRSCOPE_API_KEY": KEY})
    assert result.exit_code == 1
    assert url in result.stderr and "make up" in result.stderr


def test_the_command_says_where_the_key_comes_from(tmp_path):
    result = airscope_load(env={"AIRSCOPE_HOME": str(tmp_path), "AIRSCOPE_API_KEY": None})
    assert result.exit_code == 1
    assert "AIRSCOPE_API_KEY" in result.stderr and "make up" in result.stderr
    assert str(tmp_path / "api-key") in result.stderr
