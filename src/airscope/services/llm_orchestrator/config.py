"""Every setting of llm-orchestrator, read from the environment in one place."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_settings import NoDecode

from airscope.services.common.config import URL, ConfigError, EnvSettings, service_url_field


@dataclass(frozen=True)
class Price:
    """A model's list price in USD per million tokens."""

    input: float
    output: float

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


# Providers' published list prices (USD per million tokens, standard tier, mid-2025).
BUILTIN_PRICES: Mapping[str, Price] = MappingProxyType(
    {
        "gpt-4o-mini": Price(0.15, 0.60),
        "gpt-4o": Price(2.50, 10.00),
        "gpt-4.1": Price(2.00, 8.00),
        "gpt-4.1-mini": Price(0.40, 1.60),
        "gpt-4.1-nano": Price(0.10, 0.40),
        "o4-mini": Price(1.10, 4.40),
        "gemini-2.0-flash": Price(0.10, 0.40),
        "gemini-2.5-flash": Price(0.30, 2.50),
        "gemini-2.5-pro": Price(1.25, 10.00),
    }
)


def parse_prices(raw: str) -> dict[str, Price]:
    """LLM_PRICES: ``{"model": {"input": usd_per_million, "output": usd_per_million}}``."""
    try:
        table = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"LLM_PRICES is not valid JSON: {exc}") from None
    if not isinstance(table, dict):
        raise ConfigError('LLM_PRICES must be a JSON object like {"model": {"input": 0.15, "output": 0.6}}')
    prices = {}
    for model, entry in table.items():
        try:
            price = Price(float(entry["input"]), float(entry["output"]))
        except (TypeError, KeyError, ValueError):
            raise ConfigError(
                f'LLM_PRICES["{model}"] must be {{"input": <usd per million>, "output": <usd per million>}}'
            ) from None
        if price.input < 0 or price.output < 0:
            raise ConfigError(f'LLM_PRICES["{model}"] has a negative price')
        prices[model] = price
    return prices


def _prices(raw: object) -> object:
    return parse_prices(raw) if isinstance(raw, str) else raw


class Config(EnvSettings):
    """llm-orchestrator's settings."""

    llm_base_url: URL = Field("https://api.openai.com/v1", validation_alias="LLM_BASE_URL")
    """Base URL of the OpenAI-compatible chat completions API."""
    llm_api_key: str = Field(repr=False, validation_alias="LLM_API_KEY")
    """The LLM provider's API key."""
    llm_model: str = Field("gpt-4o-mini", validation_alias="LLM_MODEL")
    """The model chats ask for."""
    llm_timeout_seconds: float = Field(30.0, ge=0.1, validation_alias="LLM_TIMEOUT_SECONDS")
    """One completion request."""
    llm_max_retries: int = Field(2, ge=0, validation_alias="LLM_MAX_RETRIES")
    """Retries of a completion that failed transiently."""
    llm_prices: Annotated[dict[str, Price], NoDecode, BeforeValidator(_prices)] = Field(
        {}, validation_alias="LLM_PRICES"
    )
    """USD per million tokens by model, `{"model": {"input": 0.15, "output": 0.6}}`: adds models to the
    built-in table of providers' list prices (mid-2025) or corrects it without a release. A model neither
    knows costs 0."""
    daily_budget_usd: float = Field(10.0, ge=0, validation_alias="LLM_DAILY_BUDGET_USD")
    """Daily LLM spend in USD after which chats are refused with 429."""
    chat_max_steps: int = Field(6, ge=1, validation_alias="CHAT_MAX_STEPS")
    """Completions (tool rounds) one chat may take."""
    chat_deadline_seconds: float = Field(50.0, gt=0, validation_alias="CHAT_DEADLINE_SECONDS")
    """The longest one chat may take, all its completions and tool calls with their retries: past it
    the chat is stopped and answered 504 ``chat_deadline``. Below the api-gateway's 60 s timeout, so
    no chat goes on working for a caller that has left."""
    database_url: str = Field(validation_alias="DATABASE_URL")
    """Its PostgreSQL database (chat history)."""
    redis_url: str = Field(validation_alias="REDIS_URL")
    """The Redis that holds the budget and sessions."""
    airtable_base_id: str | None = Field(None, validation_alias="AIRTABLE_BASE_ID")
    """The base chats are about unless they name another (local mode names the stand-in's demo base)."""
    mcp_server_url: URL = service_url_field("mcp-server")
    platform_url: URL = service_url_field("platform-services")

    @property
    def llm_price(self) -> Price | None:
        """The model's price; None when neither the built-in table nor LLM_PRICES knows it (it costs 0)."""
        return {**BUILTIN_PRICES, **self.llm_prices}.get(self.llm_model)

    @property
    def mcp_url(self) -> str:
        """mcp-server's Streamable HTTP endpoint."""
        return self.mcp_server_url + "/mcp"
