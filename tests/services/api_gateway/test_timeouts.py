"""Along every call chain, on the default settings, a caller waits longer than the longest its callee
may take to answer: otherwise the caller gives up (504) while the callee goes on working for no
one, and under overload that wasted work is what keeps the platform from recovering.

A callee's longest answer is read from its own settings' defaults: its longest wait, or every
attempt of its own outbound call with the back-off between them.
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
    """Every attempt of one Airtable request, and the back-off budget between them."""
    attempts = default(AirtableGatewayConfig, "max_attempts")
    return attempts * default(AirtableGatewayConfig, "timeout_seconds") + default(
        AirtableGatewayConfig, "max_retry_wait_seconds"
    )


def chat_longest() -> float:
    """Every completion of one chat's tool rounds, each with its retries."""
    tries = 1 + default(LlmOrchestratorConfig, "llm_max_retries")
    return (
        default(LlmOrchestratorConfig, "chat_max_steps")
        * tries
        * default(LlmOrchestratorConfig, "llm_timeout_seconds")
    )


NOT_YET = "the callee has no deadline of its own shorter than its caller's (issue 21, reported)"

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
        marks=pytest.mark.xfail(reason=NOT_YET),
    ),
    pytest.param(
        default(McpServerConfig, "gateway_timeout_seconds"),
        airtable_gateway_longest(),
        id="mcp-server > airtable-gateway",
        marks=pytest.mark.xfail(reason=NOT_YET),
    ),
    pytest.param(
        default(AutomationConfig, "gateway_timeout_seconds"),
        airtable_gateway_longest(),
        id="automation-services > airtable-gateway",
        marks=pytest.mark.xfail(reason=NOT_YET),
    ),
    pytest.param(
        default(SagaConfig, "step_timeout_seconds"),
        airtable_gateway_longest(),
        id="saga-orchestrator's step > airtable-gateway",
        marks=pytest.mark.xfail(reason=NOT_YET),
    ),
    pytest.param(
        gateway_timeout("llm-orchestrator"),
        chat_longest(),
        id="api-gateway > a chat's completions",
        marks=pytest.mark.xfail(reason=NOT_YET),
    ),
]


@pytest.mark.parametrize(("caller_waits", "callee_may_take"), CHAINS)
def test_a_caller_waits_longer_than_its_callee_may_take(caller_waits: float, callee_may_take: float) -> None:
    assert caller_waits > callee_may_take
