"""The business alerts (group ``airscope-business``): the failures users feel that are not 5xx.

Every request can succeed while a saga is undone, an import is given up, the day's LLM budget refuses
every chat, a tool keeps failing, Airtable throttles us or the browser shows errors. Each alert reads
the domain metrics of the one service that counts it (docs/metrics.md), so each carries `service`.

Two shapes recur:

- a share with a floor of events, over 5 minutes and over the profile's short window (as
  ChatAnswersFailing): the short window resolves the alert about a minute after the fix;
- an event that should not happen at all (a dead letter, a failed saga): fires on one in the short
  window, and ``keep_firing_for`` (``settings.EVENT_KEEP_FIRING``) holds it through an outage's gaps in
  production so that one incident is one notification, while local mode resolves it at once (drills).
"""

from __future__ import annotations

from airscope.stack import settings
from airscope.stack.alert_rule import alert as _alert
from airscope.stack.settings import SERVICES_JOB, Profile, alert_for

GROUP = "airscope-business"


def _series(metric: str, *matchers: str) -> str:
    selector = ", ".join((f'job="{SERVICES_JOB}"', *matchers))
    return f"{metric}{{{selector}}}"


def _increase(series: str, window: str, by: str = "service") -> str:
    return f"sum by ({by}) (increase({series}[{window}]))"


def _event(alert: dict, profile: Profile) -> dict:
    return alert | {"keep_firing_for": settings.EVENT_KEEP_FIRING[profile.name]}


def _sagas(profile: Profile) -> list[dict]:
    """saga-orchestrator's saga_runs_total: sagas undone (compensated) or left half done (failed)."""
    bad = _series("saga_runs_total", 'outcome=~"compensated|failed"')
    failed = _series("saga_runs_total", 'outcome="failed"')
    window, short = settings.SAGA_WINDOW, profile.short_window
    ratio, least = settings.SAGA_FAILURE_RATIO, settings.SAGA_FAILURES_MIN
    compensated_for = alert_for("SagasFailing:compensated", profile)
    failed_for = alert_for("SagasFailing:failed", profile)
    return [
        _event(
            _alert(
                "SagasFailing",
                f"{_increase(bad, window)}\n/ on (service)\n{_increase(_series('saga_runs_total'), window)}\n"
                f"> {ratio}\nand on (service)\n{_increase(bad, window)} >= {least}\n"
                f"and on (service)\n{_increase(bad, short)} > 0",
                compensated_for,
                # Warning: a compensated saga is a clean failure (every done step undone) that the user
                # is told of and can retry; many of them say a step's service or Airtable is broken.
                "warning",
                "{{ $value | humanizePercentage }} of the sagas of {{ $labels.service }} were undone",
                f"Over {window}, more than {ratio:.0%} of the sagas that ended (at least {least:g} of "
                f"them) were compensated or failed, and one ended so over the last {short}, users' "
                "onboardings fail: a step's service or Airtable keeps refusing.",
            ),
            profile,
        ),
        _event(
            _alert(
                "SagasFailing",
                f"{_increase(failed, short)} > 0",
                failed_for,
                # Critical: a compensation failed too, so data is left inconsistent (a workspace
                # without its table, a table without its workflow) until a person cleans it up.
                "critical",
                "A saga of {{ $labels.service }} failed and could not be undone",
                f"A saga ended failed over the last {short}, its compensation gave up: what its done "
                "steps created is left half done until a person cleans it up.",
            ),
            profile,
        ),
    ]


def _automation(profile: Profile) -> list[dict]:
    """automation-services' job queues: jobs given up, and jobs waiting too long to start."""
    short = profile.short_window
    dead = _series("automation_jobs_dead_lettered_total")
    backlog_for = alert_for("QueueBacklog", profile)
    age = settings.QUEUE_OLDEST_JOB_SECONDS
    return [
        _event(
            _alert(
                "JobsDeadLettered",
                f"{_increase(dead, short, 'service, queue')} > 0",
                alert_for("JobsDeadLettered", profile),
                "warning",
                "{{ $labels.service }} gave up jobs of its {{ $labels.queue }} queue",
                f"Jobs of the {{{{ $labels.queue }}}} queue were moved to its dead letters over the last {short}, "
                "each after AUTOMATION_MAX_JOB_ATTEMPTS failed attempts: a user's import or workflow run "
                "failed for good.",
            ),
            profile,
        ),
        _alert(
            "QueueBacklog",
            # A gauge every instance reads from the same Redis queue: max, not sum.
            f"max by (service, queue) ({_series('automation_queue_oldest_job_age_seconds')}) > {age:g}",
            backlog_for,
            "warning",
            "The next job of {{ $labels.service }}'s {{ $labels.queue }} queue has waited "
            "{{ $value | humanizeDuration }}",
            f"A job of the {{{{ $labels.queue }}}} queue has waited more than {age:g} s to start: "
            "the workers are stuck or too few for the work; continuously so "
            f"for {backlog_for}.",
        ),
    ]


def _llm_budget(profile: Profile) -> list[dict]:
    """llm-orchestrator's daily budget: spent, every chat is refused with 429 until 00:00 UTC."""
    spent = f"max by (service) ({_series('llm_budget_spent_usd')})"
    limit = f"max by (service) ({_series('llm_budget_limit_usd')})"
    share = settings.LLM_BUDGET_WARNING
    exhausted_for, nearly_for = (
        alert_for("LLMBudgetExhausted", profile),
        alert_for("LLMBudgetNearlySpent", profile),
    )
    return [
        _alert(
            "LLMBudgetExhausted",
            # Both gauges are shared by every replica (Redis, configuration): max, not sum.
            f"{spent}\n>= on (service)\n{limit}",
            exhausted_for,
            # Critical: the platform's main feature refuses every user for the rest of the day.
            "critical",
            "{{ $labels.service }} has spent its daily LLM budget: every chat is refused",
            f"Today's LLM spend (UTC) reached LLM_DAILY_BUDGET_USD for {exhausted_for}. Every chat is "
            "answered 429 budget_exhausted until 00:00 UTC.",
        ),
        _alert(
            "LLMBudgetNearlySpent",
            # Quiet once exhausted: that one says it, critically.
            f"{spent}\n>= on (service)\n{share} * {limit}\nand on (service)\n{spent}\n< on (service)\n{limit}",
            nearly_for,
            "warning",
            '{{ $labels.service }} has spent {{ $value | printf "%.2f" }} USD of its daily LLM budget',
            f"Today's LLM spend (UTC) is above {share:.0%} of LLM_DAILY_BUDGET_USD: at this pace chats "
            "will be refused with 429 before the day ends.",
        ),
    ]


def _share(bad: str, every: str, window: str, by: str) -> str:
    return f"sum by ({by}) (rate({bad}[{window}]))\n/ on ({by})\nsum by ({by}) (rate({every}[{window}]))"


def _mcp_tool_errors(profile: Profile) -> dict:
    """mcp-server's tool calls answered with an error, per tool."""
    calls = _series("mcp_tool_calls_total")
    errors = _series("mcp_tool_calls_total", 'outcome="error"')
    by, short = "service, tool", profile.short_window
    ratio, least = settings.MCP_TOOL_ERROR_RATIO, settings.MCP_TOOL_CALLS_MIN
    return _alert(
        "MCPToolErrors",
        f"(\n{_share(errors, calls, '5m', by)}\n) > {ratio}\nand on ({by})\n"
        f"{_increase(calls, '5m', by)} >= {least}\nand on ({by})\n(\n{_share(errors, calls, short, by)}\n) > {ratio}",
        alert_for("MCPToolErrors", profile),
        "warning",
        "{{ $value | humanizePercentage }} of {{ $labels.service }}'s {{ $labels.tool }} calls fail",
        f"Over 5 minutes (at least {least} calls), and over the last {short}, more than {ratio:.0%} of "
        "the calls of the tool {{ $labels.tool }} answered an error: the model, and every other MCP "
        "client, get failures instead of Airtable data.",
    )


def _airtable(profile: Profile) -> list[dict]:
    """airtable-gateway's client-side limiter against Airtable's 5 requests/s per base."""
    limited = _series("airtable_rate_limited_responses_total")
    wait = _series("airtable_rate_limit_wait_seconds_bucket")
    short, least, seconds = (
        profile.short_window,
        settings.AIRTABLE_429_MIN,
        settings.AIRTABLE_LIMITER_WAIT_SECONDS,
    )

    def p95(window: str) -> str:
        return f"histogram_quantile(0.95,\n  sum by (service, le) (rate({wait}[{window}])))"

    return [
        _alert(
            "AirtableRateLimited",
            f"{_increase(limited, '5m')} >= {least}\nand on (service)\n{_increase(limited, short)} > 0",
            alert_for("AirtableRateLimited", profile),
            "warning",
            "Airtable answered {{ $labels.service }} 429 {{ $value | humanize }} times in 5 minutes",
            f"Airtable refused at least {least} requests over 5 minutes with 429, and more over the last "
            f"{short}, despite the client-side limiter: its margin is too thin (replicas or another "
            "integration share the base's 5 requests/s), and Airtable answers nothing to that base for "
            "30 s after each.",
        ),
        _alert(
            "AirtableLimiterSaturated",
            f"{p95('5m')}\n> {seconds:g}\nand on (service)\n{p95(short)}\n> {seconds:g}",
            alert_for("AirtableLimiterSaturated", profile),
            "warning",
            "Requests of {{ $labels.service }} wait {{ $value | humanizeDuration }} (p95) for Airtable's rate limit",
            f"The 95th percentile of the wait for a token of the per-base limiter over 5 minutes, and over "
            f"the last {short}, is above {seconds:g} s: more is asked of a base than Airtable's 5 "
            "requests/s, and every request to it queues.",
        ),
    ]


def _frontend(profile: Profile) -> list[dict]:
    """The browsers' own reports (RUM): errors in the UI's code, and slow or jumpy pages."""
    # kind="fetch" is an API call that failed: the backend's alerts and SLOs see those.
    errors = _series("rum_js_errors_total", 'kind!="fetch"')
    views = _series("rum_page_views_total")
    ratio, least = settings.FRONTEND_ERRORS_PER_VIEW, settings.FRONTEND_VIEWS_MIN
    window, samples = settings.WEB_VITALS_WINDOW, settings.WEB_VITALS_SAMPLES_MIN
    timing_for, layout_for = alert_for("PoorWebVitals", profile), alert_for("PoorWebVitals", profile)

    def p75(metric: str, by: str, *matchers: str) -> str:
        bucket = _series(f"{metric}_bucket", *matchers)
        return f"histogram_quantile(0.75,\n  sum by ({by}, le) (rate({bucket}[{window}])))"

    timing = "\nor\n".join(
        f"{p75('rum_web_vital_seconds', 'service, name', matcher)}\n> {poor:g}"
        for matcher, poor in ((f'name="{name}"', poor) for name, poor in settings.WEB_VITALS_POOR.items())
    )
    names = "|".join(settings.WEB_VITALS_POOR)
    timed = _series("rum_web_vital_seconds_count", f'name=~"{names}"')
    shifts = _series("rum_cumulative_layout_shift_count")
    vitals = ", ".join(f"{name} {poor:g} s" for name, poor in settings.WEB_VITALS_POOR.items())
    layout = _alert(
        "PoorWebVitals",
        f"{p75('rum_cumulative_layout_shift', 'service')}\n> {settings.LAYOUT_SHIFT_POOR:g}\n"
        f"and on (service)\n{_increase(shifts, window)} >= {samples}",
        layout_for,
        "warning",
        'The layout of {{ $labels.service }}\'s pages shifts: CLS p75 {{ $value | printf "%.2f" }}',
        f"The 75th percentile of Cumulative Layout Shift over {window} (at least {samples} page loads) "
        f"is above Google's poor threshold ({settings.LAYOUT_SHIFT_POOR:g}), for {layout_for}.",
    )
    layout["labels"]["name"] = "CLS"  # as the timing rule's `name`, which its series carry
    return [
        _alert(
            "FrontendErrors",
            f"(\n{_share(errors, views, '5m', 'service')}\n) > {ratio}\nand on (service)\n"
            f"{_increase(views, '5m')} >= {least}",
            alert_for("FrontendErrors", profile),
            "warning",
            'The UI of {{ $labels.service }} raises {{ $value | printf "%.2f" }} errors per page view',
            f"Over 5 minutes (at least {least} page views) the browsers reported more than {ratio:g} "
            "uncaught exceptions or unhandled rejections per page view, for "
            f"{alert_for('FrontendErrors', profile)}.",
        ),
        _alert(
            "PoorWebVitals",
            f"(\n{timing}\n)\nand on (service, name)\n{_increase(timed, window, 'service, name')} >= {samples}",
            timing_for,
            "warning",
            "{{ $labels.name }} of {{ $labels.service }}'s pages is poor: p75 {{ $value | humanizeDuration }}",
            f"The 75th percentile of {{{{ $labels.name }}}} over {window} (at least {samples} page loads) "
            f"is above Google's poor threshold ({vitals}), for {timing_for}.",
        ),
        layout,
    ]


def group(profile: Profile) -> dict:
    return {
        "name": GROUP,
        "rules": [
            *_sagas(profile),
            *_automation(profile),
            *_llm_budget(profile),
            _mcp_tool_errors(profile),
            *_airtable(profile),
            *_frontend(profile),
        ],
    }
