"""Every setting of llm-orchestrator, read from the environment in one place."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from airscope.services.common import ConfigError, env_float, env_int, env_str, service_url


@dataclass(frozen=True)
class Price:
    """A model's list price in USD per million tokens."""

    input: float
    output: float

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


# Providers' published list prices (USD per million tokens, standard tier, mid-2025). LLM_PRICES
# adds models or corrects these without a release.
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


@dataclass(frozen=True)
class Config:
    llm_base_url: str
    llm_api_key: str
    llm_model: str
    llm_timeout_seconds: float
    llm_max_retries: int
    # None when neither the built-in table nor LLM_PRICES knows the model: its calls cost 0.
    llm_price: Price | None
    daily_budget_usd: float
    chat_max_steps: int
    database_url: str
    redis_url: str
    airtable_base_id: str | None
    mcp_url: str

    @classmethod
    def from_env(cls) -> Config:
        model = env_str("LLM_MODEL", "gpt-4o-mini")
        prices = {**BUILTIN_PRICES, **parse_prices(os.environ.get("LLM_PRICES") or "{}")}
        return cls(
            llm_base_url=env_str("LLM_BASE_URL", "https://api.openai.com/v1").rstrip("/"),
            llm_api_key=env_str("LLM_API_KEY"),
            llm_model=model,
            llm_timeout_seconds=env_float("LLM_TIMEOUT_SECONDS", 30.0, minimum=0.1),
            llm_max_retries=env_int("LLM_MAX_RETRIES", 2, minimum=0),
            llm_price=prices.get(model),
            daily_budget_usd=env_float("LLM_DAILY_BUDGET_USD", 10.0, minimum=0),
            chat_max_steps=env_int("CHAT_MAX_STEPS", 6, minimum=1),
            database_url=env_str("DATABASE_URL"),
            redis_url=env_str("REDIS_URL"),
            airtable_base_id=os.environ.get("AIRTABLE_BASE_ID") or None,
            mcp_url=service_url("mcp-server") + "/mcp",
        )
