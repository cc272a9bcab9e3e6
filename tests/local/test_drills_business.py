"""The business drills without a platform: the LLM budget fault against the real budget code and a
real Redis, the long import's requests, the new traffic kinds, demand as a fault, and what
`airscope train` may inject blind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import redis.asyncio
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from airscope import stack
from airscope.local.drills import training
from airscope.local.drills.faults import (
    BUDGET_MARKER,
    IMPORT_LATENCY_MS,
    IMPORT_ROWS,
    READS,
    SAGAS,
    UPLOADS,
    Burst,
    LongImport,
    SpendBudget,
    Traffic,
    metric_value,
)
from airscope.local.drills.scenarios import QUEUE_BACKLOG_WITHIN, RESOLVE_WITHIN, scenarios
from airscope.services.common import ServiceError
from airscope.services.llm_orchestrator.budget import Budget
from airscope.stack.rules import LOCAL_ALERTS_PATH
from airscope.standins.airtable.seed import ABOUT, BASE_ID, LOAD_BASE_ID
from airscope.standins.airtable.seed import TABLES as SEED_TABLES
from tests.support import redis_database, serve_app, wait_until

NEW = (
    "target-down",
    "sagas-failing",
    "jobs-dead-lettered",
    "queue-backlog",
    "llm-budget",
    "mcp-tool-errors",
    "airtable-429",
    "airtable-saturated",
)
BUDGET_DB = 13  # this module's Redis database, emptied before each test that uses it


def local_rules() -> list[dict]:
    return [
        rule
        for group in yaml.safe_load(stack.generate()[LOCAL_ALERTS_PATH])["groups"]
        for rule in group["rules"]
    ]


@pytest.mark.parametrize("name", NEW)
def test_each_new_drill_expects_an_alert_the_local_rules_raise_with_those_labels(name):
    scenario = scenarios()[name]
    rules = [rule for rule in local_rules() if rule["alert"] == scenario.expect["alertname"]]
    assert rules, f"{name}: no local rule {scenario.expect['alertname']}"
    fixed = {k: v for k, v in scenario.expect.items() if k in ("severity", "job")}
    assert any(fixed.items() <= rule["labels"].items() for rule in rules), (name, fixed)
    # The bounds of docs/alerting.md: 30 s for a target down, 90 s for the rest unless written why.
    expected = {"target-down": 30, "queue-backlog": QUEUE_BACKLOG_WITHIN}.get(name, 90)
    assert scenario.notify_within == expected
    assert RESOLVE_WITHIN == 60


def test_the_airtable_drills_tolerate_what_airtable_failing_raises_and_not_the_gateways_5xx():
    for name in ("error-burst", "chat-failures", "sagas-failing", "jobs-dead-lettered", "mcp-tool-errors"):
        tolerated = scenarios()[name].tolerate
        for alert in ("MCPToolErrors", "JobsDeadLettered", "SagasFailing", "ChatAnswersFailing"):
            assert {"alertname": alert} in tolerated, (name, alert)
    # The chats are answered 200: a 5xx at the gateway is no fault of chat-failures'.
    assert {"alertname": "HighErrorRate", "service": "api-gateway"} not in scenarios()[
        "chat-failures"
    ].tolerate


# --- the LLM budget, against llm-orchestrator's own Budget and a real Redis -----------------------


def metrics_app(limit: float) -> FastAPI:
    app = FastAPI()

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        text = f"# HELP llm_budget_limit_usd x\n# TYPE llm_budget_limit_usd gauge\nllm_budget_limit_usd {limit}\n"
        return PlainTextResponse(text)

    return app


@pytest.fixture
def budget_target(redis_server) -> Iterator[SimpleNamespace]:
    url = redis_database(redis_server.url, BUDGET_DB)
    with serve_app(metrics_app(2.5)) as orchestrator:
        yield SimpleNamespace(
            url=lambda program: orchestrator,
            plat=SimpleNamespace(infrastructure={"redis": SimpleNamespace(url=url)}),
            redis_url=url,
        )


async def _budget_state(url: str) -> tuple[float, bool]:
    """Today's spend as llm-orchestrator reads it, and whether it would take a new chat."""
    async with redis.asyncio.from_url(url) as client:
        budget = Budget(client, 2.5)
        try:
            await budget.ensure_available()
        except ServiceError as refused:
            assert (refused.status, refused.code) == (429, "budget_exhausted")
            return await budget.spent_today(), False
        return await budget.spent_today(), True


async def _spend(url: str, usd: float) -> None:
    async with redis.asyncio.from_url(url) as client:
        await Budget(client, 2.5).record(usd)


@pytest.mark.infra
def test_the_budget_fault_refuses_every_chat_and_healing_takes_back_exactly_what_it_added(budget_target):
    url = budget_target.redis_url
    asyncio.run(_spend(url, 0.75))  # chats earlier today
    fault = SpendBudget()
    fault.prepare(budget_target)
    assert fault.limit(budget_target) == 2.5

    fault.inject(budget_target)
    fault.inject(budget_target)  # a second injection adds nothing: one drill, one budget
    spent, open_ = asyncio.run(_budget_state(url))
    assert not open_ and spent == pytest.approx(0.75 + 2.5)
    asyncio.run(_spend(url, 0.125))  # a chat that was running when the budget ran out

    fault.heal(budget_target)
    fault.cleanup(budget_target)  # healing twice (a drill's cleanup, `train end`) takes back once
    spent, open_ = asyncio.run(_budget_state(url))
    assert open_ and spent == pytest.approx(0.875)
    with redis.Redis.from_url(url) as client:
        assert client.get(BUDGET_MARKER) is None


def test_the_budget_limit_is_read_from_the_services_metrics():
    exposition = "# TYPE llm_budget_limit_usd gauge\nllm_budget_limit_usd 10.0\nllm_budget_spent_usd 3.0\n"
    assert metric_value(exposition, "llm_budget_limit_usd") == 10.0
    assert metric_value(exposition, "llm_active_sessions") is None


# --- the long import and the traffic kinds --------------------------------------------------------


class FakeGateway:
    """The api-gateway and the Airtable stand-in's fault switch in one app: what they were asked."""

    def __init__(self) -> None:
        self.faults: list[tuple[str, dict | None]] = []
        self.uploads: list[dict] = []
        self.requests: list[tuple[str, str, dict]] = []
        self.app = FastAPI()
        self.app.add_api_route("/_admin/faults", self.switch, methods=["PUT", "DELETE"])
        self.app.add_api_route("/api/automation/files", self.upload, methods=["POST"], status_code=202)
        self.app.add_api_route("/{path:path}", self.other, methods=["GET", "POST"])

    async def switch(self, request: Request) -> dict:
        body = await request.json() if request.method == "PUT" else None
        self.faults.append((request.method, body))
        return {}

    async def upload(self, request: Request) -> dict:
        assert request.headers["x-api-key"] == "key"
        form = await request.form()
        content = (await form["file"].read()).decode()
        self.uploads.append(
            {
                "name": form["file"].filename,
                "base_id": form["base_id"],
                "table": form["table"],
                "csv": content,
            }
        )
        return {"id": str(len(self.uploads)), "status": "queued"}

    async def other(self, path: str, request: Request) -> dict:
        body = json.loads(await request.body() or b"{}")
        self.requests.append((request.method, f"/{path}", {**dict(request.query_params), **body}))
        return {}


@pytest.fixture
def gateway() -> Iterator[tuple[FakeGateway, SimpleNamespace]]:
    fake = FakeGateway()
    with serve_app(fake.app) as url:
        target = SimpleNamespace(
            url=lambda program: url, standin=lambda saas: url, plat=SimpleNamespace(api_key="key")
        )
        yield fake, target


def test_the_long_import_slows_airtable_then_queues_a_long_file_and_one_behind_it(gateway):
    fake, target = gateway
    fault = LongImport()
    fault.prepare(target)
    fault.inject(target)
    assert fake.faults == [("PUT", {"extra_latency_ms": IMPORT_LATENCY_MS})]
    long_file, behind = fake.uploads
    assert long_file["name"].endswith("-long.csv") and behind["name"].endswith("-next.csv")
    assert {(u["base_id"], u["table"]) for u in fake.uploads} == {(LOAD_BASE_ID, ABOUT.name)}
    header = ",".join(field.name for field in ABOUT.fields)
    assert long_file["csv"].splitlines()[0] == header
    assert len(long_file["csv"].splitlines()) == IMPORT_ROWS + 1 and len(behind["csv"].splitlines()) == 2
    fault.heal(target)
    assert fake.faults[-1] == ("DELETE", None)


def test_the_sagas_uploads_and_reads_traffic_send_what_each_drill_needs(gateway):
    fake, target = gateway
    for kind in (SAGAS, UPLOADS, READS):
        with Traffic(target, rps=50, max_in_flight=2, kind=kind) as traffic:
            wait_until(
                lambda t=traffic: sum(t.statuses.values()) >= 8, timeout=10, message=f"8 {kind} requests"
            )
    sagas = [body for method, path, body in fake.requests if path == "/api/sagas/onboarding"]
    assert len(sagas) >= 8 and all(body["base_id"] == LOAD_BASE_ID for body in sagas)
    assert len({body["workspace_name"] for body in sagas}) == len(sagas), "a workspace name taken compensates"
    assert len(fake.uploads) >= 8 and all(len(u["csv"].splitlines()) == 2 for u in fake.uploads)
    reads = [(path, body["maxRecords"]) for method, path, body in fake.requests if "/records" in path]
    assert len(reads) >= 8 and len(set(reads)) == len(reads), "a repeated read could come from the cache"
    assert all(path.startswith(f"/api/airtable/bases/{BASE_ID}/tables/") for path, _ in reads)
    assert len({path for path, _ in reads}) == min(len(reads), len(SEED_TABLES))


def test_demand_as_the_fault_lasts_from_injection_to_healing_and_is_not_trained_blind(gateway):
    fake, target = gateway
    fault = Burst(READS, 50, 2)
    assert not fault.persistent
    fault.inject(target)
    wait_until(lambda: len(fake.requests) >= 4, timeout=10, message="reads while the fault lasts")
    fault.heal(target)
    sent = len(fake.requests)
    assert sum(fault.traffic.statuses.values()) >= 4
    fault.cleanup(target)  # after healing: nothing left to stop
    assert len(fake.requests) == sent

    saturated = [name for name, s in scenarios().items() if not s.fault.persistent]
    assert saturated == ["airtable-saturated"]
    with pytest.raises(training.TrainingError, match="cannot be injected blind"):
        training._usable(target, saturated, named=True, service=None)
    assert training._usable(target, saturated, named=False, service=None) == []
