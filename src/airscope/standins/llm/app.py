"""An OpenAI-compatible API answering by the fixed rules of ``rules`` (usage by ``tokens``).

- ``GET /v1/models`` → ``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}``.
- ``POST /v1/chat/completions`` (non-streaming): any ``model`` is accepted and echoed back;
  ``messages`` (system/user/assistant/tool) and function ``tools``; the answer is one choice with
  either text (``finish_reason: "stop"``) or one tool call (``finish_reason: "tool_calls"``).

Every ``/v1`` request needs ``Authorization: Bearer <key>``; any key is accepted unless
``STANDIN_LLM_API_KEY`` is set, then only that one. ``STANDIN_LATENCY_MS`` and the fault switch
(``airscope.standins.faults``) apply. Errors have OpenAI's shape:
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from airscope.standins.faults import install_faults
from airscope.standins.llm.rules import Reply, decide, offered_tools
from airscope.standins.llm.tokens import compact_json, usage
from airscope.standins.settings import LlmSettings, load, refuse_production

MODELS = ("gpt-4o-mini", "gpt-4o")
_CREATED = 1_700_000_000  # a fixed "created" for the model list


class OpenAIError(Exception):
    def __init__(
        self, status: int, message: str, kind: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _fault_body(status: int, message: str) -> dict[str, Any]:
    if status == 429:  # OpenAI's refusal of a request over the rate limit
        return {
            "error": {"message": message, "type": "requests", "param": None, "code": "rate_limit_exceeded"}
        }
    return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}


class ChatRequest(BaseModel):
    # Sampling parameters (temperature, max_tokens, ...) are accepted and have no effect.
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    stream: bool = False


def _tool_calls(reply: Reply, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert reply.tool_call is not None
    # Derived from the conversation, so the same request gets the same ID and different turns differ.
    digest = hashlib.sha256(compact_json([messages, reply.tool_call.name]).encode()).hexdigest()
    return [
        {
            "id": f"call_{digest[:24]}",
            "type": "function",
            "function": {"name": reply.tool_call.name, "arguments": compact_json(reply.tool_call.arguments)},
        }
    ]


def completion(request: ChatRequest) -> dict[str, Any]:
    reply = decide(request.messages, offered_tools(request.tools))
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    tool_calls = None
    if reply.tool_call is not None:
        tool_calls = _tool_calls(reply, request.messages)
        message["tool_calls"] = tool_calls
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "system_fingerprint": "fp_airscope_standin",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "stop" if tool_calls is None else "tool_calls",
            }
        ],
        "usage": usage(request.messages, request.tools, text=reply.text, tool_calls=tool_calls),
    }


def create_app() -> FastAPI:
    refuse_production()
    required_key = load(LlmSettings).api_key
    app = FastAPI(title="LLM stand-in", docs_url=None, redoc_url=None, openapi_url=None)

    async def authenticated(request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise OpenAIError(
                401, "You didn't provide an API key (Authorization: Bearer <key>).", "invalid_request_error"
            )
        if required_key not in (None, key.strip()):
            raise OpenAIError(
                401, "Incorrect API key provided.", "invalid_request_error", code="invalid_api_key"
            )

    api = APIRouter(prefix="/v1", dependencies=[Depends(authenticated)])

    @api.get("/models")
    async def list_models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": model, "object": "model", "created": _CREATED, "owned_by": "airscope-standin"}
                for model in MODELS
            ],
        }

    @api.post("/chat/completions")
    async def chat_completions(request: ChatRequest) -> dict[str, Any]:
        if request.stream:
            raise OpenAIError(
                400,
                "The LLM stand-in does not stream; send stream=false.",
                "invalid_request_error",
                param="stream",
            )
        return completion(request)

    app.include_router(api)
    install_faults(app, _fault_body)

    async def openai_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OpenAIError)
        return JSONResponse(exc.body, status_code=exc.status)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
        error = OpenAIError(
            400, f"Invalid request: {first.get('msg', 'invalid')}", "invalid_request_error", param=param
        )
        return await openai_error(request, error)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        message = (
            f"Invalid URL ({request.method} {request.url.path})"
            if exc.status_code == 404
            else str(exc.detail)
        )
        return await openai_error(request, OpenAIError(exc.status_code, message, "invalid_request_error"))

    app.add_exception_handler(OpenAIError, openai_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    return app
