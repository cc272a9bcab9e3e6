"""llm-orchestrator: chat with the user's Airtable data through an LLM and mcp-server's tools."""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Annotated

from fastapi import FastAPI, Path, Request
from pydantic import BaseModel, StringConstraints

import airscope
from airscope.services.common import (
    ActivityReporter,
    errors,
    install_error_handlers,
)
from airscope.services.common import redis_client as redis_client_module
from airscope.services.common.background import refresh_gauges, stop
from airscope.services.common.datastores import dependency_errors
from airscope.services.common.deadline import RequestDeadline
from airscope.services.common.http_clients import internal_client
from airscope.services.common.storable import trimmed_text
from airscope.services.llm_orchestrator import history, metrics
from airscope.services.llm_orchestrator.budget import Budget
from airscope.services.llm_orchestrator.chat import Chat
from airscope.services.llm_orchestrator.config import Config
from airscope.services.llm_orchestrator.llm import LLM
from airscope.services.llm_orchestrator.tools import McpTools, mcp_http_client
from airscope.telemetry import get_logger, http_check, instrument, postgres_check, redis_check

log = get_logger(__name__)

SESSION_ID = r"^[A-Za-z0-9._-]{1,64}$"
MAX_MESSAGE_CHARS = 8000
GAUGE_REFRESH_SECONDS = 10.0


SessionId = Annotated[str, StringConstraints(pattern=SESSION_ID)]


Message = trimmed_text(MAX_MESSAGE_CHARS)


class ChatRequest(BaseModel):
    message: Message
    session_id: SessionId | None = None


class Usage(BaseModel):
    input_tokens: int
    output_tokens: int


class ToolCall(BaseModel):
    tool: str
    ok: bool


class ChatResponse(BaseModel):
    session_id: str
    answer: str
    model: str
    usage: Usage
    cost_usd: float
    tool_calls: list[ToolCall]
    steps: int


class SessionResponse(BaseModel):
    session_id: str
    messages: list[dict]


async def _gauges(store: history.History, budget: Budget) -> None:
    # The gauges are shared state in Redis (other replicas chat too, and a day or an activity
    # window ends without any chat here), so they are re-read on a timer, not only at each chat.
    metrics.LLM_ACTIVE_SESSIONS.set(await store.active_sessions())
    await budget.spent_today()


def create_app() -> FastAPI:
    config = Config.from_env()
    redis_client = redis_client_module.connect(config.redis_url, socket_timeout=2.0, connect_timeout=1.0)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if config.llm_price is None:
            log.warning(
                "model has no price: its calls count as costing 0 against the budget; set LLM_PRICES",
                model=config.llm_model,
            )
        metrics.initialise(config.llm_model, config.daily_budget_usd)
        pool = await history.create_pool(config.database_url)
        llm = LLM(config)
        store = history.History(pool, redis_client)
        budget = Budget(redis_client, config.daily_budget_usd)
        refresher = asyncio.create_task(
            refresh_gauges(partial(_gauges, store, budget), GAUGE_REFRESH_SECONDS, log)
        )
        async with internal_client() as activity_client, mcp_http_client() as mcp_http:
            tools = McpTools(config.mcp_url, mcp_http)
            app.state.chat = Chat(config, store, budget, llm, tools)
            app.state.activity = ActivityReporter(activity_client, config.platform_url)
            try:
                yield
            finally:
                await stop([refresher])
                await app.state.activity.drain()
                await tools.aclose()
                await llm.close()
                await pool.close()
                await redis_client.aclose()

    app = FastAPI(title="llm-orchestrator", version=airscope.__version__, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(RequestDeadline, seconds=config.chat_deadline_seconds, code="chat_deadline")

    @app.post("/chat", responses=errors(404, 429))
    async def chat(body: ChatRequest, request: Request) -> ChatResponse:
        with dependency_errors():
            result = await request.app.state.chat.turn(body.message, body.session_id)
        request.app.state.activity.report("chat", request.headers.get("x-client-id"))
        return ChatResponse(
            session_id=result.session_id,
            answer=result.answer,
            model=result.model,
            usage=Usage(input_tokens=result.input_tokens, output_tokens=result.output_tokens),
            cost_usd=round(result.cost_usd, 8),
            tool_calls=[ToolCall(**call) for call in result.tool_calls],
            steps=result.steps,
        )

    @app.get("/sessions/{session_id}", responses=errors(404))
    async def session(
        session_id: Annotated[str, Path(pattern=SESSION_ID)], request: Request
    ) -> SessionResponse:
        with dependency_errors():
            messages = await request.app.state.chat.session(session_id)
        return SessionResponse(session_id=session_id, messages=messages)

    instrument(
        app,
        service="llm-orchestrator",
        version=airscope.__version__,
        checks=[
            postgres_check(config.database_url),
            redis_check(redis_client),
            # Without mcp-server a chat still answers, only without Airtable data: warn, stay ready.
            http_check("mcp-server", config.mcp_server_url, critical=False),
        ],
    )
    return app
