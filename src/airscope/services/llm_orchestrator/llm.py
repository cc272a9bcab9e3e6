"""Chat completions from the LLM provider: bounded retries, usage and cost, one GenAI span per attempt.

The SDK's own retries are off: ours count every attempt in ``llm_requests_total`` and give each
one its span: a CLIENT span following the OpenTelemetry GenAI semantic conventions (model, token
counts, and the HTTP status of a failed attempt). It is the attempt's only span: the kit's HTTP
client span under it told nothing more of the same request (and the provider, outside the
platform, joins no trace), so the request is made without one (``suppress_http_instrumentation``).
Prompts and answers never go into spans: they are user data.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.trace import SpanKind, Status, StatusCode

from airscope.services.common import ServiceError
from airscope.services.llm_orchestrator import keepalive, metrics
from airscope.services.llm_orchestrator.config import Config
from airscope.telemetry import get_logger

log = get_logger(__name__)

BACKOFF_BASE_SECONDS = 0.25
MAX_RETRY_AFTER_SECONDS = 10.0
# Connections to the provider: about the chats waiting for a completion at once.
MAX_CONNECTIONS = 200
MAX_KEEPALIVE_CONNECTIONS = 50


@dataclass(frozen=True)
class Completion:
    message: ChatCompletionMessage
    input_tokens: int
    output_tokens: int
    cost_usd: float


class _Retryable(Exception):
    """One failed attempt worth another; ``outcome`` is its llm_requests_total label."""

    def __init__(self, outcome: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.retry_after = retry_after


def provider_name(base_url: str) -> str:
    """``gen_ai.provider.name`` from the endpoint; any other OpenAI-compatible server counts as openai."""
    host = urlsplit(base_url).hostname or ""
    if host.endswith("googleapis.com"):
        return "gcp.gemini"
    if host.endswith(".azure.com"):
        return "azure.ai.openai"
    return "openai"


def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        return min(float(exc.response.headers.get("retry-after", "")), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return None


class LLM:
    def __init__(
        self,
        config: Config,
        *,
        client: openai.AsyncOpenAI | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.model = config.llm_model
        self.price = config.llm_price
        self.max_retries = config.llm_max_retries
        self.client = client or openai.AsyncOpenAI(
            base_url=config.llm_base_url,
            api_key=config.llm_api_key,
            timeout=config.llm_timeout_seconds,
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(
                limits=keepalive.limits(MAX_CONNECTIONS, MAX_KEEPALIVE_CONNECTIONS)
            ),
        )
        self.sleep = sleep
        url = urlsplit(config.llm_base_url)
        self.span_attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider_name(config.llm_base_url),
            # The older name of the attribute above, still what most backends group by.
            "gen_ai.system": provider_name(config.llm_base_url),
            "gen_ai.request.model": self.model,
            "server.address": url.hostname or "",
            "server.port": url.port or (443 if url.scheme == "https" else 80),
        }
        self.tracer = trace.get_tracer("airscope.llm_orchestrator", tracer_provider=tracer_provider)

    async def close(self) -> None:
        await self.client.close()

    async def complete(self, messages: Sequence[dict], tools: Sequence[dict]) -> Completion:
        """One chat completion, retried on timeouts, 5xx, 429 and unreachable provider."""
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = await self._attempt(messages, tools)
            except _Retryable as failure:
                log.warning(
                    "llm attempt failed",
                    attempt=attempt,
                    attempts=attempts,
                    outcome=failure.outcome,
                    reason=failure.reason,
                )
                if attempt == attempts:
                    raise self._exhausted(failure, attempts) from None
                backoff = BACKOFF_BASE_SECONDS * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
                await self.sleep(failure.retry_after if failure.retry_after is not None else backoff)
                continue
            return self._account(response)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _exhausted(self, failure: _Retryable, attempts: int) -> ServiceError:
        if failure.outcome == "timeout":
            return ServiceError(
                504, "llm_timeout", f"the LLM provider did not answer in time ({attempts} attempts)"
            )
        return ServiceError(
            502,
            "llm_unavailable",
            f"the LLM provider failed {attempts} attempts (last: {failure.reason}); try again later",
        )

    async def _attempt(self, messages: Sequence[dict], tools: Sequence[dict]) -> ChatCompletion:
        with self.tracer.start_as_current_span(
            f"chat {self.model}",
            kind=SpanKind.CLIENT,
            attributes=self.span_attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            started = time.perf_counter()
            outcome = "ok"
            try:
                with suppress_http_instrumentation():
                    response = await self.client.post(
                        "/chat/completions", body=self._body(messages, tools), cast_to=ChatCompletion
                    )
            except openai.APITimeoutError:
                outcome = "timeout"
                raise _Retryable(outcome, "timeout") from None
            except openai.APIConnectionError:
                outcome = "error"
                raise _Retryable(outcome, "provider unreachable") from None
            except openai.RateLimitError as exc:
                span.set_attribute("http.response.status_code", 429)
                outcome = "rate_limited"
                raise _Retryable(outcome, "HTTP 429 rate limited", _retry_after(exc)) from None
            except openai.APIStatusError as exc:
                span.set_attribute("http.response.status_code", exc.status_code)
                if exc.status_code >= 500:
                    outcome = "error"
                    raise _Retryable(outcome, f"HTTP {exc.status_code}") from None
                outcome = "rejected"
                raise _rejected(exc) from None
            finally:
                metrics.LLM_REQUESTS.labels(self.model, outcome).inc()
                metrics.LLM_REQUEST_DURATION.labels(self.model).observe(time.perf_counter() - started)
                if outcome != "ok":
                    span.set_attribute("error.type", outcome)
                    span.set_status(Status(StatusCode.ERROR, outcome))
            span.set_attribute("gen_ai.response.model", response.model)
            span.set_attribute("gen_ai.response.id", response.id)
            span.set_attribute("gen_ai.response.finish_reasons", [c.finish_reason for c in response.choices])
            if response.usage is not None:
                span.set_attribute("gen_ai.usage.input_tokens", response.usage.prompt_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", response.usage.completion_tokens)
            return response

    def _body(self, messages: Sequence[dict], tools: Sequence[dict]) -> dict:
        """The request as JSON. Sent with the SDK's plain ``post`` (its documented way to any
        endpoint): ``chat.completions.create`` first walks every message and tool schema to
        transform typed parameters, a tenth of this service's CPU per chat, while ours are plain
        JSON already (stored messages, tool schemas)."""
        body: dict = {"model": self.model, "messages": list(messages)}
        if tools:
            body["tools"] = list(tools)
        return body

    def _account(self, response: ChatCompletion) -> Completion:
        if not response.choices:
            raise ServiceError(502, "llm_unavailable", "the LLM provider answered without a choice")
        usage = response.usage
        input_tokens = usage.prompt_tokens if usage else 0
        output_tokens = usage.completion_tokens if usage else 0
        cost = self.price.cost_usd(input_tokens, output_tokens) if self.price else 0.0
        metrics.LLM_TOKENS.labels(self.model, "input").inc(input_tokens)
        metrics.LLM_TOKENS.labels(self.model, "output").inc(output_tokens)
        metrics.LLM_COST.labels(self.model).inc(cost)
        return Completion(response.choices[0].message, input_tokens, output_tokens, cost)


def _rejected(exc: openai.APIStatusError) -> ServiceError:
    # The provider's text for 401/403 can quote part of the key: only the status goes on.
    if exc.status_code in (401, 403):
        hint = "check LLM_API_KEY and the account's access to LLM_MODEL"
    else:
        hint = str(exc.message)[:300]
    return ServiceError(
        502, "llm_rejected", f"the LLM provider rejected the request (HTTP {exc.status_code}): {hint}"
    )
