"""The domain dashboards, one per topic, from the metrics each service documents in docs/metrics.md:
what the platform does for its users (chats, tools, imports, sign-ins, sagas, the UI as seen in
browsers) rather than how its HTTP servers behave. The AI path's topics are in ``ai``.
"""

from __future__ import annotations

from airscope.stack.grafana.dashboards import ai, panels, topics
from airscope.stack.grafana.dashboards.panels import P95, prom, quantile, rate
from airscope.stack.grafana.dashboards.panels import timeseries_panel as graph
from airscope.stack.grafana.dashboards.topics import (
    HOUR,
    P50,
    P75,
    Topic,
    by_rate,
    durations,
    gauge,
    gauges_by,
    pool,
    quantiles,
    recent_count,
    wide,
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
                    gauge("Active users (15 min)", "platform_active_users", width=6, height=8),
                    by_rate(
                        "Auth attempts/s by method and outcome",
                        "auth_attempts_total",
                        "method, outcome",
                        stacked=True,
                        width=9,
                    ),
                    by_rate("Tokens issued/s by type", "auth_tokens_issued_total", "type", width=9),
                ],
            ),
            (
                "Activity",
                [
                    wide("Activity events/s by type", "activity_events_total", "type"),
                ],
            ),
            (
                "Database",
                [
                    durations("Query duration by operation", "db_query_duration_seconds", "operation"),
                    pool("db_pool_connections"),
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
                    by_rate(
                        "Files/s by type and outcome",
                        "automation_files_processed_total",
                        "type, outcome",
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
                    durations(
                        "File processing time by type",
                        "automation_file_processing_duration_seconds",
                        "type",
                        width=8,
                    ),
                ],
            ),
            (
                "Queues",
                [
                    gauges_by("Jobs waiting by queue", "automation_queue_depth", "queue", width=8),
                    gauges_by(
                        "Age of the oldest waiting job",
                        "automation_queue_oldest_job_age_seconds",
                        "queue",
                        unit="s",
                        width=8,
                    ),
                    by_rate("Retries/s by queue", "automation_job_retries_total", "queue", width=8),
                    recent_count(
                        f"Jobs dead-lettered in the last {HOUR}", "automation_jobs_dead_lettered_total"
                    ),
                    by_rate(
                        "Dead-lettered jobs/s by queue",
                        "automation_jobs_dead_lettered_total",
                        "queue",
                        width=18,
                    ),
                ],
            ),
            (
                # What is left for an operator (`airscope jobs`, docs/procedures/cleanup.md) and what
                # they did with it.
                "Dead letters",
                [
                    gauges_by(
                        "Dead-lettered jobs waiting for an operator",
                        "automation_dead_letters",
                        "queue",
                        width=8,
                    ),
                    by_rate(
                        "Dead letters handled/s by queue and action",
                        "automation_dead_letters_handled_total",
                        "queue, action",
                        width=16,
                    ),
                ],
            ),
            (
                "Workflows",
                [
                    wide(
                        "Workflow runs/s by workflow and status",
                        "automation_workflow_runs_total",
                        "workflow, status",
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
                    recent_count(
                        f"Sagas failed in the last {HOUR} (someone must clean up)",
                        "saga_runs_total",
                        'outcome="failed"',
                    ),
                    by_rate(
                        "Sagas ended/s by saga and outcome",
                        "saga_runs_total",
                        "saga, outcome",
                        stacked=True,
                        width=9,
                    ),
                    by_rate(
                        "Compensations/s by step and outcome",
                        "saga_compensations_total",
                        "step, outcome",
                        width=9,
                    ),
                ],
            ),
            (
                # What is left for an operator (`airscope sagas`, docs/procedures/cleanup.md) and
                # what they did with it; clean-ups are not counted in the outcomes above.
                "Clean-up",
                [
                    gauges_by("Failed sagas waiting for an operator", "saga_failed_open", "saga", width=8),
                    by_rate(
                        "Clean-ups/s by saga and outcome",
                        "saga_cleanups_total",
                        "saga, outcome",
                        width=16,
                    ),
                ],
            ),
            (
                "Progress and duration",
                [
                    gauges_by("Sagas in progress", "saga_in_progress", "saga", "sum", width=8),
                    durations("Saga duration", "saga_duration_seconds", "saga", width=8),
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
                        quantiles("rum_time_to_first_chat_answer_seconds", qs=(P50, P75, P95)),
                        unit="s",
                        width=8,
                    ),
                ],
            ),
            (
                "Errors and traffic",
                [
                    by_rate(
                        "JavaScript errors/s by kind", "rum_js_errors_total", "kind", stacked=True, width=8
                    ),
                    by_rate("Page views/s by page", "rum_page_views_total", "page", stacked=True, width=8),
                    by_rate(
                        "RUM beacons/s by outcome",
                        "rum_beacons_total",
                        "outcome",
                        width=8,
                        description="Rejected beacons (malformed, too large, rate limited) change no other rum_* metric.",
                    ),
                ],
            ),
        ),
    )


TOPICS = (ai.llm, ai.mcp, ai.airtable, users, automation, sagas, frontend)


def build_all() -> list:
    # The catalog does not shape these: their metrics belong to particular services' code.
    return [topics.build(make()) for make in TOPICS]
