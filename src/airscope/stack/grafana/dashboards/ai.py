"""The AI path's dashboards: chats and the model (LLM), the MCP server's tools, and Airtable behind
the airtable-gateway.
"""

from __future__ import annotations

from airscope.stack import settings
from airscope.stack.grafana.dashboards import panels
from airscope.stack.grafana.dashboards.panels import prom, rate, ratio, series, stat_panel
from airscope.stack.grafana.dashboards.panels import timeseries_panel as graph
from airscope.stack.grafana.dashboards.topics import Topic, by_rate, durations, gauge, pool, quantiles, wide

# Chats by how they ended (llm_chats_total's outcome): answered ones whose answer reports a failure.
CHAT_ANSWERED = 'outcome!="failed"'
CHAT_FAILING = 'outcome=~"tool_failure|no_tools"'


def _chat_answers() -> list:
    """How chats ended, what share of answers was useless, what the model was sent: a chat can fail
    its user with every HTTP answer a 200 (issue 16)."""
    return [
        graph(
            "Chats/s by outcome",
            [prom(rate("llm_chats_total", by="outcome"), "{{outcome}}")],
            unit="ops",
            stacked=True,
            width=8,
            description="answered; tool_failure: the model answered right after a failed tool call, so "
            "its answer reports the failure; no_tools: answered without Airtable data (mcp-server "
            "unreachable); failed: no answer (a 5xx to the user).",
        ),
        graph(
            "Share of answers reporting a failure",
            [
                prom(
                    f"{rate('llm_chats_total', CHAT_FAILING)}\n/\n{rate('llm_chats_total', CHAT_ANSWERED)}",
                    "tool_failure + no_tools",
                )
            ],
            unit="percentunit",
            width=8,
            steps=panels.thresholds((settings.CHAT_FAILURE_RATIO, "red")),
            description="Answered chats whose answer came after a failed tool call or without the tools. "
            "ChatAnswersFailing pages above the dashed line (over 5 minutes, with at least "
            f"{settings.CHAT_ANSWERS_MIN} chats answered in them).",
        ),
        graph(
            "Tool results cut to fit/s by tool",
            # 0 for each tool called and never cut, rather than "No data" on a healthy platform.
            [
                prom(
                    f"{rate('llm_tool_results_truncated_total', by='tool')}\nor\n"
                    f"{rate('llm_tool_calls_total', by='tool')} * 0",
                    "{{tool}}",
                )
            ],
            unit="ops",
            width=8,
            description="Tool results llm-orchestrator cut (items left out, long values shortened) to "
            "fit the model's context: the base has outgrown what a tool answers at once.",
        ),
        panels.heatmap_panel(
            "Input tokens per chat",
            "llm_chat_input_tokens",
            description="Chats per second by their input tokens (all completions of the chat summed), "
            "per bucket: a base whose schema no longer fits shows as a move upwards.",
        ),
        graph(
            "Input tokens per chat by model",
            quantiles("llm_chat_input_tokens", by="model", legend="{{model}}"),
        ),
    ]


def llm() -> Topic:
    return Topic(
        "airscope-llm",
        "airscope / LLM",
        "Chats and how their answers ended, and the chat completions sent to the LLM provider: traffic, "
        "outcome, tokens, cost and latency by model.",
        (
            ("Chat answers", _chat_answers()),
            (
                "Spend",
                [
                    gauge("Spent today (UTC)", "llm_budget_spent_usd", unit="currencyUSD"),
                    gauge("Daily budget", "llm_budget_limit_usd", unit="currencyUSD"),
                    stat_panel(
                        "Budget used",
                        [
                            prom(
                                f"max({series('llm_budget_spent_usd')}) / max({series('llm_budget_limit_usd')})",
                                instant=True,
                            )
                        ],
                        unit="percentunit",
                        steps=panels.thresholds((0.8, "orange"), (1, "red")),
                    ),
                    gauge("Active chat sessions", "llm_active_sessions"),
                    graph(
                        "Cost per hour by model",
                        [prom(f"{rate('llm_cost_usd_total', by='model')} * 3600", "{{model}}")],
                        unit="currencyUSD",
                        width=8,
                        height=4,
                    ),
                ],
            ),
            (
                "Requests",
                [
                    by_rate(
                        "Requests/s by model and outcome",
                        "llm_requests_total",
                        "model, outcome",
                        unit="reqps",
                        stacked=True,
                    ),
                    graph(
                        "Share of requests not ok, by model",
                        [prom(ratio("llm_requests_total", 'outcome!="ok"', by="model"), "{{model}}")],
                        unit="percentunit",
                    ),
                    durations("Latency by model", "llm_request_duration_seconds", "model"),
                    by_rate(
                        "Tokens/s by model and type",
                        "llm_tokens_total",
                        "model, type",
                        unit="short",
                        stacked=True,
                    ),
                ],
            ),
            (
                "Tool calls the model asked for",
                [
                    wide("Tool calls/s by tool and outcome", "llm_tool_calls_total", "tool, outcome"),
                ],
            ),
        ),
    )


def mcp() -> Topic:
    return Topic(
        "airscope-mcp",
        "airscope / MCP tools",
        "The MCP server's tools: how often each is called, how often it succeeds, how long it takes.",
        (
            (
                "Tools",
                [
                    by_rate("Calls/s by tool", "mcp_tool_calls_total", "tool", stacked=True),
                    graph(
                        "Success ratio by tool",
                        [prom(ratio("mcp_tool_calls_total", 'outcome="ok"', by="tool"), "{{tool}}")],
                        unit="percentunit",
                    ),
                    by_rate("Errors/s by tool", "mcp_tool_calls_total", "tool, outcome", 'outcome!="ok"'),
                    durations("Duration by tool", "mcp_tool_duration_seconds", "tool"),
                    graph(
                        "Sessions open",
                        [prom(f"sum({series('mcp_active_sessions')})", "sessions")],
                        width=panels.WIDTH,
                    ),
                ],
            ),
        ),
    )


def airtable() -> Topic:
    return Topic(
        "airscope-airtable",
        "airscope / Airtable",
        "Requests to Airtable through the airtable-gateway: rate limiting, 429s, retries, calls saved "
        "(cache, single flight, write batches), pool.",
        (
            (
                "Requests",
                [
                    by_rate(
                        "Requests/s by operation and status",
                        "airtable_request_duration_seconds_count",
                        "operation, status",
                        unit="reqps",
                        stacked=True,
                    ),
                    durations("Latency by operation", "airtable_request_duration_seconds", "operation"),
                ],
            ),
            (
                "Rate limiting and retries",
                [
                    graph(
                        "Wait for the client-side rate limiter",
                        quantiles("airtable_rate_limit_wait_seconds"),
                        unit="s",
                        width=8,
                    ),
                    graph(
                        "429 answers from Airtable/s",
                        [prom(rate("airtable_rate_limited_responses_total"), "429s")],
                        unit="ops",
                        width=8,
                    ),
                    by_rate("Retries/s by reason", "airtable_retries_total", "reason", width=8, stacked=True),
                ],
            ),
            (
                "Calls saved: cache, single flight, write batches",
                [
                    graph(
                        "Cache hit ratio",
                        [
                            prom(ratio("airtable_cache_requests_total", 'result="hit"'), "all reads"),
                            prom(
                                ratio("airtable_cache_requests_total", 'result="hit"', by="operation"),
                                "{{operation}}",
                            ),
                        ],
                        unit="percentunit",
                        description="Reads the Redis cache answered; a write to a table makes its "
                        "cached reads miss (a change of the schema: the whole base's).",
                    ),
                    graph(
                        "Calls to Airtable saved/s",
                        [
                            prom(rate("airtable_cache_requests_total", 'result="hit"'), "cache hits"),
                            prom(rate("airtable_calls_saved_total", by="reason"), "{{reason}}"),
                            prom(rate("airtable_request_duration_seconds_count"), "sent"),
                        ],
                        unit="ops",
                        description="What was answered without a request to Airtable: from the cache, "
                        "by an identical read in flight (coalesced), or inside another write's request "
                        "of up to 10 records (batched); against the requests sent (at most 5/s per base).",
                    ),
                ],
            ),
            (
                "Limiter margin and connection pool",
                [
                    graph(
                        "Limiter window (widest base)",
                        [prom(f"max({series('airtable_rate_limit_window_seconds')})", "window")],
                        unit="s",
                        description="At most 5 requests per window per base: 1.05 s, wider for a while "
                        "after Airtable answered 429, narrowing back while it agrees.",
                    ),
                    pool("airtable_pool_connections"),
                ],
            ),
        ),
    )
