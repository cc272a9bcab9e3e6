"""The domain dashboards, one per topic, from the metrics each service documents in docs/metrics.md:
what the platform does for its users (chats, tools, imports, sign-ins, sagas, the UI as seen in
browsers) rather than how its HTTP servers behave.

Gauges that every replica reports alike are read with max(); per-process gauges are summed.
"""

from __future__ import annotations

from dataclasses import dataclass

from airscope.stack import settings
from airscope.stack.grafana.dashboards import panels
from airscope.stack.grafana.dashboards.panels import P95, prom, quantile, rate, ratio, series, stat_panel
from airscope.stack.grafana.dashboards.panels import timeseries_panel as graph

P50 = "0.5"
P75 = "0.75"  # Core Web Vitals are judged at the 75th percentile of page loads (web.dev)
HOUR = "1h"  # the window of "in the last hour" counts of rare, serious events


@dataclass(frozen=True)
class Topic:
    uid: str
    title: str
    description: str
    rows: tuple


def _quantiles(histogram: str, *matchers: str, by: str = "", legend: str = "", qs=(P50, P95)) -> list:
    prefix = f"{legend} " if legend else ""
    return [prom(quantile(q, histogram, *matchers, by=by), f"{prefix}p{float(q) * 100:g}") for q in qs]


def _recent(metric: str, *matchers: str) -> str:
    return f"sum(increase({series(metric, *matchers)}[{HOUR}]))"


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
            _quantiles("llm_chat_input_tokens", by="model", legend="{{model}}"),
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
                    stat_panel(
                        "Spent today (UTC)",
                        [prom(f"max({series('llm_budget_spent_usd')})", instant=True)],
                        unit="currencyUSD",
                    ),
                    stat_panel(
                        "Daily budget",
                        [prom(f"max({series('llm_budget_limit_usd')})", instant=True)],
                        unit="currencyUSD",
                    ),
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
                    stat_panel(
                        "Active chat sessions", [prom(f"max({series('llm_active_sessions')})", instant=True)]
                    ),
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
                    graph(
                        "Requests/s by model and outcome",
                        [prom(rate("llm_requests_total", by="model, outcome"), "{{model}} {{outcome}}")],
                        unit="reqps",
                        stacked=True,
                    ),
                    graph(
                        "Share of requests not ok, by model",
                        [prom(ratio("llm_requests_total", 'outcome!="ok"', by="model"), "{{model}}")],
                        unit="percentunit",
                    ),
                    graph(
                        "Latency by model",
                        _quantiles("llm_request_duration_seconds", by="model", legend="{{model}}"),
                        unit="s",
                    ),
                    graph(
                        "Tokens/s by model and type",
                        [prom(rate("llm_tokens_total", by="model, type"), "{{model}} {{type}}")],
                        stacked=True,
                    ),
                ],
            ),
            (
                "Tool calls the model asked for",
                [
                    graph(
                        "Tool calls/s by tool and outcome",
                        [prom(rate("llm_tool_calls_total", by="tool, outcome"), "{{tool}} {{outcome}}")],
                        unit="ops",
                        stacked=True,
                        width=panels.WIDTH,
                    ),
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
                    graph(
                        "Calls/s by tool",
                        [prom(rate("mcp_tool_calls_total", by="tool"), "{{tool}}")],
                        unit="ops",
                        stacked=True,
                    ),
                    graph(
                        "Success ratio by tool",
                        [prom(ratio("mcp_tool_calls_total", 'outcome="ok"', by="tool"), "{{tool}}")],
                        unit="percentunit",
                    ),
                    graph(
                        "Errors/s by tool",
                        [
                            prom(
                                rate("mcp_tool_calls_total", 'outcome!="ok"', by="tool, outcome"),
                                "{{tool}} {{outcome}}",
                            )
                        ],
                        unit="ops",
                    ),
                    graph(
                        "Duration by tool",
                        _quantiles("mcp_tool_duration_seconds", by="tool", legend="{{tool}}"),
                        unit="s",
                    ),
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
        "Requests to Airtable through the airtable-gateway: rate limiting, 429s, retries, cache, pool.",
        (
            (
                "Requests",
                [
                    graph(
                        "Requests/s by operation and status",
                        [
                            prom(
                                rate("airtable_request_duration_seconds_count", by="operation, status"),
                                "{{operation}} {{status}}",
                            )
                        ],
                        unit="reqps",
                        stacked=True,
                    ),
                    graph(
                        "Latency by operation",
                        _quantiles(
                            "airtable_request_duration_seconds", by="operation", legend="{{operation}}"
                        ),
                        unit="s",
                    ),
                ],
            ),
            (
                "Rate limiting and retries",
                [
                    graph(
                        "Wait for the client-side rate limiter",
                        _quantiles("airtable_rate_limit_wait_seconds"),
                        unit="s",
                        width=8,
                    ),
                    graph(
                        "429 answers from Airtable/s",
                        [prom(rate("airtable_rate_limited_responses_total"), "429s")],
                        unit="ops",
                        width=8,
                    ),
                    graph(
                        "Retries/s by reason",
                        [prom(rate("airtable_retries_total", by="reason"), "{{reason}}")],
                        unit="ops",
                        width=8,
                        stacked=True,
                    ),
                ],
            ),
            (
                "Cache and connection pool",
                [
                    graph(
                        "Cache hit ratio by operation",
                        [
                            prom(
                                ratio("airtable_cache_requests_total", 'result="hit"', by="operation"),
                                "{{operation}}",
                            )
                        ],
                        unit="percentunit",
                    ),
                    _pool("airtable_pool_connections"),
                ],
            ),
        ),
    )


def _pool(metric: str):
    """A connection pool's connections by state (in_use, idle) against its limit (``<metric>_limit``)."""
    return graph(
        "Pool connections",
        [
            prom(f"sum by (state) ({series(metric)})", "{{state}}"),
            prom(f"sum({series(metric + '_limit')})", "limit"),
        ],
    )


def users() -> Topic:
    return Topic(
        "airscope-users",
        "airscope / Users",
        "Sign-ins, tokens and activity in platform-services, and the database behind them.",
        (
            (
                "Authentication",
                [
                    stat_panel(
                        "Active users (15 min)",
                        [prom(f"max({series('platform_active_users')})", instant=True)],
                        width=6,
                        height=8,
                    ),
                    graph(
                        "Auth attempts/s by method and outcome",
                        [prom(rate("auth_attempts_total", by="method, outcome"), "{{method}} {{outcome}}")],
                        unit="ops",
                        stacked=True,
                        width=9,
                    ),
                    graph(
                        "Tokens issued/s by type",
                        [prom(rate("auth_tokens_issued_total", by="type"), "{{type}}")],
                        unit="ops",
                        width=9,
                    ),
                ],
            ),
            (
                "Activity",
                [
                    graph(
                        "Activity events/s by type",
                        [prom(rate("activity_events_total", by="type"), "{{type}}")],
                        unit="ops",
                        stacked=True,
                        width=panels.WIDTH,
                    ),
                ],
            ),
            (
                "Database",
                [
                    graph(
                        "Query duration by operation",
                        _quantiles("db_query_duration_seconds", by="operation", legend="{{operation}}"),
                        unit="s",
                    ),
                    _pool("db_pool_connections"),
                ],
            ),
        ),
    )


def automation() -> Topic:
    return Topic(
        "airscope-automation",
        "airscope / Automation",
        "File imports into Airtable and workflows: outcomes, records, row errors, queues and dead letters.",
        (
            (
                "Imports",
                [
                    graph(
                        "Files/s by type and outcome",
                        [
                            prom(
                                rate("automation_files_processed_total", by="type, outcome"),
                                "{{type}} {{outcome}}",
                            )
                        ],
                        unit="ops",
                        stacked=True,
                        width=8,
                    ),
                    graph(
                        "Records imported/s and rows rejected/s",
                        [
                            prom(rate("automation_records_imported_total"), "imported"),
                            prom(rate("automation_row_errors_total", by="type"), "rejected {{type}}"),
                        ],
                        unit="ops",
                        width=8,
                    ),
                    graph(
                        "File processing time by type",
                        _quantiles(
                            "automation_file_processing_duration_seconds", by="type", legend="{{type}}"
                        ),
                        unit="s",
                        width=8,
                    ),
                ],
            ),
            (
                "Queues",
                [
                    graph(
                        "Jobs waiting by queue",
                        [prom(f"max by (queue) ({series('automation_queue_depth')})", "{{queue}}")],
                        width=8,
                    ),
                    graph(
                        "Age of the oldest waiting job",
                        [
                            prom(
                                f"max by (queue) ({series('automation_queue_oldest_job_age_seconds')})",
                                "{{queue}}",
                            )
                        ],
                        unit="s",
                        width=8,
                    ),
                    graph(
                        "Retries/s by queue",
                        [prom(rate("automation_job_retries_total", by="queue"), "{{queue}}")],
                        unit="ops",
                        width=8,
                    ),
                    stat_panel(
                        f"Jobs dead-lettered in the last {HOUR}",
                        [prom(_recent("automation_jobs_dead_lettered_total"), instant=True)],
                        unit="none",
                        steps=panels.thresholds((1, "red")),
                        width=6,
                        height=8,
                    ),
                    graph(
                        "Dead-lettered jobs/s by queue",
                        [prom(rate("automation_jobs_dead_lettered_total", by="queue"), "{{queue}}")],
                        unit="ops",
                        width=18,
                    ),
                ],
            ),
            (
                "Workflows",
                [
                    graph(
                        "Workflow runs/s by workflow and status",
                        [
                            prom(
                                rate("automation_workflow_runs_total", by="workflow, status"),
                                "{{workflow}} {{status}}",
                            )
                        ],
                        unit="ops",
                        stacked=True,
                        width=panels.WIDTH,
                    ),
                ],
            ),
        ),
    )


def sagas() -> Topic:
    return Topic(
        "airscope-sagas",
        "airscope / Sagas",
        "Sagas run by the saga-orchestrator: outcomes, compensations, sagas in flight and durations.",
        (
            (
                "Outcomes",
                [
                    stat_panel(
                        f"Sagas failed in the last {HOUR} (someone must clean up)",
                        [prom(_recent("saga_runs_total", 'outcome="failed"'), instant=True)],
                        unit="none",
                        steps=panels.thresholds((1, "red")),
                        width=6,
                        height=8,
                    ),
                    graph(
                        "Sagas ended/s by saga and outcome",
                        [prom(rate("saga_runs_total", by="saga, outcome"), "{{saga}} {{outcome}}")],
                        unit="ops",
                        stacked=True,
                        width=9,
                    ),
                    graph(
                        "Compensations/s by step and outcome",
                        [prom(rate("saga_compensations_total", by="step, outcome"), "{{step}} {{outcome}}")],
                        unit="ops",
                        width=9,
                    ),
                ],
            ),
            (
                "Progress and duration",
                [
                    graph(
                        "Sagas in progress",
                        [prom(f"sum by (saga) ({series('saga_in_progress')})", "{{saga}}")],
                        width=8,
                    ),
                    graph(
                        "Saga duration",
                        _quantiles("saga_duration_seconds", by="saga", legend="{{saga}}"),
                        unit="s",
                        width=8,
                    ),
                    graph(
                        "p95 step duration",
                        [
                            prom(
                                quantile(P95, "saga_step_duration_seconds", by="saga, step"),
                                "{{saga}} {{step}}",
                            )
                        ],
                        unit="s",
                        width=8,
                    ),
                ],
            ),
        ),
    )


def frontend() -> Topic:
    return Topic(
        "airscope-frontend",
        "airscope / Frontend (real users)",
        "The UI as browsers saw it: errors, Core Web Vitals, page views, time to the first chat answer.",
        (
            (
                "Experience",
                [
                    graph(
                        "Web vitals p75 by name",
                        [prom(quantile(P75, "rum_web_vital_seconds", by="name"), "{{name}}")],
                        unit="s",
                        width=8,
                    ),
                    graph(
                        "Cumulative layout shift p75 by page",
                        [prom(quantile(P75, "rum_cumulative_layout_shift", by="page"), "{{page}}")],
                        unit="none",
                        width=8,
                        # web.dev: good up to 0.1, poor above 0.25.
                        steps=panels.thresholds((0.1, "orange"), (0.25, "red")),
                    ),
                    graph(
                        "Time to first chat answer",
                        _quantiles("rum_time_to_first_chat_answer_seconds", qs=(P50, P75, P95)),
                        unit="s",
                        width=8,
                    ),
                ],
            ),
            (
                "Errors and traffic",
                [
                    graph(
                        "JavaScript errors/s by kind",
                        [prom(rate("rum_js_errors_total", by="kind"), "{{kind}}")],
                        unit="ops",
                        stacked=True,
                        width=8,
                    ),
                    graph(
                        "Page views/s by page",
                        [prom(rate("rum_page_views_total", by="page"), "{{page}}")],
                        unit="ops",
                        stacked=True,
                        width=8,
                    ),
                    graph(
                        "RUM beacons/s by outcome",
                        [prom(rate("rum_beacons_total", by="outcome"), "{{outcome}}")],
                        unit="ops",
                        width=8,
                        description="Rejected beacons (malformed, too large, rate limited) change no other rum_* metric.",
                    ),
                ],
            ),
        ),
    )


TOPICS = (llm, mcp, airtable, users, automation, sagas, frontend)


def build_all() -> list:
    # The catalog does not shape these: their metrics belong to particular services' code.
    boards = []
    for topic in (make() for make in TOPICS):
        board = panels.board(topic.uid, topic.title, topic.description, tags=["business"])
        boards.append(panels.with_rows(board, topic.rows))
    return boards
