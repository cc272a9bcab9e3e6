"""Along every call chain, on the default settings, a caller waits longer than the longest its callee
may take to answer: otherwise the caller gives up (504) while the callee goes on working for no
one, and under overload that wasted work is what keeps the platform from recovering.

A callee's longest answer is read from its own settings' defaults: its longest wait, or its own
deadline (services/common/deadline.py), past which it stops and answers 504 itself.
"""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from airscope.services.airtable_gateway.config import Config as AirtableGatewayConfig
from airscope.services.api_gateway.config import DEFAULT_TIMEOUT, DEFAULT_TIMEOUTS
from airscope.services.automation_services.config import Config as AutomationConfig
from airscope.services.frontend.config import Config as FrontendConfig
from airscope.services.llm_orchestrator.config import Config as LlmOrchestratorConfig
from airscope.services.mcp_server.config import Config as McpServerConfig
from airscope.services.saga_orchestrator.app import MAX_WAIT_SECONDS
from airscope.services.saga_orchestrator.config import Config as SagaConfig


def default(model: type[BaseSettings], field: str) -> float:
    return model.model_fields[field].default


def gateway_timeout(upstream: str) -> float:
    return DEFAULT_TIMEOUTS.get(upstream, DEFAULT_TIMEOUT)


def airtable_gateway_longest() -> float:
    """Its own deadline: every attempt of one Airtable request, its limiter wait and back-off within it."""
    return default(AirtableGatewayConfig, "request_deadline_seconds")


def chat_longest() -> float:
    """A chat's own deadline: every completion of its tool rounds, each with its retries, within it."""
    return default(LlmOrchestratorConfig, "chat_deadline_seconds")


CHAINS = [
    pytest.param(
        default(FrontendConfig, "gateway_timeout"),
        max(DEFAULT_TIMEOUT, *DEFAULT_TIMEOUTS.values()),
        id="frontend > api-gateway's longest upstream timeout",
    ),
    pytest.param(
        gateway_timeout("saga-orchestrator"), MAX_WAIT_SECONDS, id="api-gateway > a waited saga call"
    ),
    pytest.param(
        gateway_timeout("airtable-gateway"),
        airtable_gateway_longest(),
        id="api-gateway > airtable-gateway",
    ),
    pytest.param(
        default(McpServerConfig, "gateway_timeout_seconds"),
        airtable_gateway_longest(),
        id="mcp-server > airtable-gateway",
    ),
    pytest.param(
        default(AutomationConfig, "gateway_timeout_seconds"),
        airtable_gateway_longest(),
        id="automation-services > airtable-gateway",
    ),
    pytest.param(
        default(SagaConfig, "step_timeout_seconds"),
        airtable_gateway_longest(),
        id="saga-orchestrator's step > airtable-gateway",
    ),
    pytest.param(
        gateway_timeout("llm-orchestrator"),
        chat_longest(),
        id="api-gateway > a chat's completions",
    ),
]


@pytest.mark.parametrize(("caller_waits", "callee_may_take"), CHAINS)
def test_a_caller_waits_longer_than_its_callee_may_take(caller_waits: float, callee_may_take: float) -> None:
    assert caller_waits > callee_may_take
