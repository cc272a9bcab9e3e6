"""llm-orchestrator's domain metrics: what the LLM provider answers, what it costs, which tools run."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# A chat completion takes from a few hundred milliseconds to tens of seconds for long answers;
# the provider timeout defaults to 30 s and may be raised, so the buckets reach 60 s.
LLM_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)

OUTCOMES = ("ok", "error", "timeout", "rate_limited", "rejected")
TOKEN_TYPES = ("input", "output")
TOOL_OUTCOMES = ("ok", "error")
# How a chat ended, as far as the platform can know it:
# - answered: the model answered, and no tool call it had just made had failed;
# - tool_failure: the model answered right after a tool call failed, so its answer reports a failure;
# - no_tools: mcp-server was unreachable, so the model answered without Airtable data;
# - failed: no answer at all (the provider failed, or the model kept calling tools).
CHAT_OUTCOMES = ("answered", "tool_failure", "no_tools", "failed")
# Input tokens of one chat, all its completions together: a question and its answer take about
# 1-3k; a base whose schema no longer fits shows as a shift to the right.
CHAT_TOKEN_BUCKETS = (250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000, 16000, 32000, 64000)
# The tool label for a name the model asked for that mcp-server did not list.
OTHER_TOOL = "other"

LLM_REQUESTS = Counter(
    "llm_requests_total",
    "Chat completion requests sent to the LLM provider, every attempt counted, by configured model and "
    "outcome (ok, error: 5xx or unreachable, timeout, rate_limited: 429, rejected: other 4xx).",
    ["model", "outcome"],
)
LLM_REQUEST_DURATION = Histogram(
    "llm_request_duration_seconds",
    "Duration of each chat completion request to the LLM provider (every attempt, backoff excluded).",
    ["model"],
    buckets=LLM_BUCKETS,
)
LLM_TOKENS = Counter(
    "llm_tokens_total",
    "Tokens the LLM provider reported in its usage, by configured model and type (input, output).",
    ["model", "type"],
)
LLM_COST = Counter(
    "llm_cost_usd_total",
    "Cost in USD of the provider's reported usage at the configured price (LLM_PRICES); 0 for an "
    "unpriced model.",
    ["model"],
)
LLM_TOOL_CALLS = Counter(
    "llm_tool_calls_total",
    "MCP tool calls the model asked for, by tool (as listed by mcp-server; other for any unknown name) "
    "and outcome (ok, error: unknown tool, bad arguments, or the tool failed).",
    ["tool", "outcome"],
)
LLM_CHATS = Counter(
    "llm_chats_total",
    "Chat turns by how they ended (answered; tool_failure: the answer came right after a failed tool "
    "call and so reports a failure; no_tools: answered without Airtable data, mcp-server unreachable; "
    "failed: no answer).",
    ["outcome"],
)
LLM_CHAT_INPUT_TOKENS = Histogram(
    "llm_chat_input_tokens",
    "Input tokens of one chat turn, every completion of it summed, as the provider reported them.",
    ["model"],
    buckets=CHAT_TOKEN_BUCKETS,
)
LLM_TOOL_RESULTS_TRUNCATED = Counter(
    "llm_tool_results_truncated_total",
    "Tool results cut to fit the model's context (whole items left out, over-long values shortened), "
    "by tool (as listed by mcp-server).",
    ["tool"],
)
LLM_ACTIVE_SESSIONS = Gauge(
    "llm_active_sessions",
    "Distinct chat sessions with a message in the last 15 minutes (all replicas: read it with max()), "
    "updated at each chat and every 10 s.",
)
LLM_BUDGET_SPENT = Gauge(
    "llm_budget_spent_usd",
    "LLM spend in USD so far today (UTC), shared by all replicas; updated at each call and every 10 s.",
)
LLM_BUDGET_LIMIT = Gauge(
    "llm_budget_limit_usd",
    "The daily LLM budget in USD (LLM_DAILY_BUDGET_USD); chats are refused with 429 once it is spent.",
)


def initialise(model: str, budget_usd: float) -> None:
    """Creates the model's series at 0, so rates and alerts see them before the first call."""
    for outcome in OUTCOMES:
        LLM_REQUESTS.labels(model, outcome)
    LLM_REQUEST_DURATION.labels(model)
    for token_type in TOKEN_TYPES:
        LLM_TOKENS.labels(model, token_type)
    LLM_COST.labels(model)
    LLM_CHAT_INPUT_TOKENS.labels(model)
    for chat_outcome in CHAT_OUTCOMES:
        LLM_CHATS.labels(chat_outcome)
    LLM_BUDGET_LIMIT.set(budget_usd)
