"""The domain counters a dashboard panel shows (chats, tokens, tool calls, logins, imports, sagas)
against what the load's answers prove the platform did.

Exact where each event is counted once and only the load makes it; a request the platform answered
5xx or not at all (``domain.unproven``) may or may not have done its work, so it widens the upper
bound by what one such request can count (without bound for a chat: its tokens are unknown).
Imports and sagas whose ending no answer showed (``pending``) may have ended either way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from airscope.local import load
from airscope.promapi import Prometheus
from airscope.stack import settings

JOB = f'job="{settings.SERVICES_JOB}"'

Bounds = tuple[float, float | None]  # at least, at most (None: no upper bound)


@dataclass(frozen=True)
class Truth:
    """What one domain counter must have counted over the window, per value of ``by`` ("" for the
    sum): within ``bounds``, and within ``unlisted`` for a value the load has no count for."""

    panel: str
    counter: str  # the metric with its label filters
    by: str | None
    bounds: dict[str, Bounds]
    unlisted: Bounds = (0, 0)


def _within(proven: float, slack: float | None) -> Bounds:
    return (proven, None if slack is None else proven + slack)


def _llm_truths(domain: load.Domain) -> list[Truth]:
    unproven = domain.unproven["chat"]
    chats = None if unproven else 0  # an unanswered chat's tokens and tool calls are unknown
    ok_calls = Counter({tool: n for (tool, ok), n in domain.tool_calls.items() if ok})
    failed_calls = sum(n for (_, ok), n in domain.tool_calls.items() if not ok)

    def per_tool(panel: str, counter: str) -> Truth:
        ok = {tool: _within(n, chats) for tool, n in ok_calls.items()}
        return Truth(panel, f'{counter}{{{JOB}, outcome="ok"}}', "tool", ok, unlisted=_within(0, chats))

    return [
        Truth(
            "LLM / Tokens/s by model and type",
            f"llm_tokens_total{{{JOB}}}",
            "type",
            {kind: _within(domain.tokens[kind], chats) for kind in ("input", "output")},
        ),
        Truth(
            "LLM / Requests/s by model and outcome",
            f'llm_requests_total{{{JOB}, outcome="ok"}}',
            None,
            {"": _within(domain.completions, chats)},
        ),
        # Every chat answered 200 ended in one of the answered outcomes (answered, tool_failure,
        # no_tools); its input tokens are the answer's usage.
        Truth(
            "LLM / Chats/s by outcome",
            f'llm_chats_total{{{JOB}, outcome!="failed"}}',
            None,
            {"": _within(domain.chats, unproven)},
        ),
        Truth(
            "LLM / Input tokens per chat",
            f"llm_chat_input_tokens_sum{{{JOB}}}",
            None,
            {"": _within(domain.tokens["input"], chats)},
        ),
        # llm-orchestrator counts a name mcp-server does not list under tool="other": errors are
        # compared in sum, successes (always a listed tool) per tool.
        per_tool("LLM / Tool calls/s by tool and outcome", "llm_tool_calls_total"),
        Truth(
            "LLM / Tool calls/s by tool and outcome",
            f'llm_tool_calls_total{{{JOB}, outcome="error"}}',
            None,
            {"": _within(failed_calls, chats)},
        ),
        # A call the model made that succeeded went through mcp-server, which counted it as ok too.
        per_tool("MCP / Calls/s by tool", "mcp_tool_calls_total"),
    ]


def _user_truths(domain: load.Domain) -> list[Truth]:
    unproven = domain.unproven
    logins, login_slack = domain.logins, unproven["login"]
    return [
        # The gateway checks bearer tokens itself: only logins count auth attempts here.
        Truth(
            "Users / Auth attempts/s by method and outcome",
            f'auth_attempts_total{{{JOB}, method="password"}}',
            "outcome",
            {outcome: _within(logins[outcome], login_slack) for outcome in logins},
            unlisted=_within(0, login_slack),
        ),
        Truth(
            "Users / Tokens issued/s by type",
            f"auth_tokens_issued_total{{{JOB}}}",
            "type",
            {kind: _within(domain.tokens_issued[kind], login_slack) for kind in ("access", "refresh")},
        ),
        Truth(
            "Users / Activity events/s by type",
            f"activity_events_total{{{JOB}}}",
            "type",
            {
                "login": _within(logins["success"], login_slack),
                "chat": _within(domain.chats, unproven["chat"]),
                "upload": _within(domain.files.total(), unproven["upload"]),
                "saga": _within(domain.sagas.total(), unproven["saga"]),
            },
        ),
    ]


def _automation_truths(domain: load.Domain) -> list[Truth]:
    unproven = domain.unproven["upload"]
    files = {outcome: domain.files[outcome] for outcome in load.FILE_ENDS}
    pending_files = domain.files[load.PENDING] + unproven
    pending_rows = None if unproven else domain.rows[load.PENDING]
    csv = f'automation_files_processed_total{{{JOB}, type="csv"}}'
    panel = "Automation / Files/s by type and outcome"
    rows_panel = "Automation / Records imported/s and rows rejected/s"
    return [
        Truth(panel, csv, None, {"": _within(domain.files.total(), unproven)}),
        Truth(panel, csv, "outcome", {outcome: _within(n, pending_files) for outcome, n in files.items()}),
        # Every csv-import run is a file's import: the scheduled runs are record-count's.
        Truth(
            "Automation / Workflow runs/s by workflow and status",
            f'automation_workflow_runs_total{{{JOB}, workflow="csv-import"}}',
            "status",
            {
                "succeeded": _within(files["completed"] + files["partial"], pending_files),
                "failed": _within(files["failed"], pending_files),
            },
        ),
        Truth(
            rows_panel,
            f"automation_records_imported_total{{{JOB}}}",
            None,
            {"": _within(domain.rows["imported"], pending_rows)},
        ),
        Truth(
            rows_panel,
            f'automation_row_errors_total{{{JOB}, type="csv"}}',
            None,
            {"": _within(domain.rows["rejected"], pending_rows)},
        ),
    ]


def _saga_truths(domain: load.Domain) -> list[Truth]:
    unproven = domain.unproven["saga"]
    sagas = {outcome: domain.sagas[outcome] for outcome in load.SAGA_ENDS}
    pending = domain.sagas[load.PENDING] + unproven
    runs = f'saga_runs_total{{{JOB}, saga="onboarding"}}'
    panel = "Sagas / Sagas ended/s by saga and outcome"
    return [
        Truth(panel, runs, None, {"": _within(domain.sagas.total(), unproven)}),
        Truth(panel, runs, "outcome", {outcome: _within(n, pending) for outcome, n in sagas.items()}),
    ]


def domain_truths(domain: load.Domain) -> list[Truth]:
    """Each domain counter a dashboard panel shows, against what the load's answers prove."""
    return [
        *_llm_truths(domain),
        *_user_truths(domain),
        *_automation_truths(domain),
        *_saga_truths(domain),
    ]


def _totals(prometheus: Prometheus, truth: Truth, at: float) -> Counter:
    grouping = f" by ({truth.by})" if truth.by else ""
    return Counter(prometheus.values_by(f"sum{grouping} ({truth.counter})", truth.by or "", at))


def _expected(bounds: Bounds) -> str:
    low, high = bounds
    if high is None:
        return f"at least {low:g}"
    return f"{low:g}" if high == low else f"{low:g} to {high:g}"


def domain_mismatches(prometheus: Prometheus, domain: load.Domain, start: float, end: float) -> list[str]:
    """Where a domain counter's increase from ``start`` to ``end`` is outside what the load's
    answers prove (``domain_truths``)."""
    problems = []
    for truth in domain_truths(domain):
        before, after = _totals(prometheus, truth, start), _totals(prometheus, truth, end)
        for value in sorted(set(truth.bounds) | set(after)):
            counted = after[value] - before[value]
            low, high = bounds = truth.bounds.get(value, truth.unlisted)
            if counted < low or (high is not None and counted > high):
                where = f" {truth.by}={value}" if truth.by else ""
                problems.append(
                    f"{truth.panel}: {truth.counter}{where}: the load's answers prove {_expected(bounds)}, "
                    f"Prometheus counted {counted:g}"
                )
    return problems
