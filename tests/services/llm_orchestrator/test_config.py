"""Prices and cost arithmetic, and the settings read from the environment."""

from __future__ import annotations

import pytest

from airscope.services.common import ConfigError
from airscope.services.llm_orchestrator.config import BUILTIN_PRICES, Config, Price, parse_prices


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("LLM_MODEL", "LLM_PRICES", "LLM_TIMEOUT_SECONDS", "LLM_MAX_RETRIES", "LLM_DAILY_BUDGET_USD",
                 "CHAT_MAX_STEPS", "AIRTABLE_BASE_ID", "LLM_BASE_URL", "AIRSCOPE_URL_MCP_SERVER"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_API_KEY", "sk-test")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1/db")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    return monkeypatch


def test_cost_is_tokens_times_price_per_million() -> None:
    price = Price(input=0.15, output=0.60)
    assert price.cost_usd(1_000_000, 0) == pytest.approx(0.15)
    assert price.cost_usd(0, 1_000_000) == pytest.approx(0.60)
    assert price.cost_usd(1000, 500) == pytest.approx(0.00015 + 0.0003)
    assert price.cost_usd(0, 0) == 0


def test_builtin_table_knows_the_common_models() -> None:
    assert BUILTIN_PRICES["gpt-4o-mini"] == Price(0.15, 0.60)
    assert BUILTIN_PRICES["gpt-4o"] == Price(2.50, 10.00)
    assert BUILTIN_PRICES["gemini-2.0-flash"] == Price(0.10, 0.40)


def test_defaults(env: pytest.MonkeyPatch) -> None:
    config = Config.from_env()
    assert config.llm_model == "gpt-4o-mini"
    assert config.llm_price == Price(0.15, 0.60)
    assert config.llm_base_url == "https://api.openai.com/v1"
    assert (config.llm_timeout_seconds, config.llm_max_retries) == (30.0, 2)
    assert (config.daily_budget_usd, config.chat_max_steps) == (10.0, 6)
    assert config.airtable_base_id is None
    assert config.mcp_url == "http://127.0.0.1:7001/mcp"


def test_llm_prices_override_and_extend_the_table(env: pytest.MonkeyPatch) -> None:
    env.setenv(
        "LLM_PRICES", '{"gpt-4o-mini": {"input": 1, "output": 2}, "my-model": {"input": 0.5, "output": 1.5}}'
    )
    assert Config.from_env().llm_price == Price(1.0, 2.0)
    env.setenv("LLM_MODEL", "my-model")
    assert Config.from_env().llm_price == Price(0.5, 1.5)


def test_unknown_model_has_no_price(env: pytest.MonkeyPatch) -> None:
    env.setenv("LLM_MODEL", "some-local-model")
    assert Config.from_env().llm_price is None


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"m": {"input": 1}}',
        '{"m": {"input": "x", "output": 1}}',
        '{"m": {"input": -1, "output": 1}}',
    ],
)
def test_bad_llm_prices_name_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="LLM_PRICES"):
        parse_prices(raw)


def test_api_key_is_required(env: pytest.MonkeyPatch) -> None:
    env.delenv("LLM_API_KEY")
    with pytest.raises(ConfigError, match="LLM_API_KEY"):
        Config.from_env()
