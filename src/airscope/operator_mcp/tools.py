"""The tools: what an assistant may read of the platform, each answer bounded (``limits``), redacted
(``answers``) and read-only. No tool writes: no silence, drill, restart or scale is among them, and
the tools' annotations say so to clients that confirm before a change.

A failure the caller can act on (an unknown service, bad PromQL, a backend that does not answer, a
query too large) raises ``ToolError``, which the SDK turns into an ``isError`` result carrying the
message; the session goes on. Each tool runs in a worker thread (the backends' clients are
synchronous) under ``TOOL_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from airscope import catalog as catalog_module
from airscope import units
from airscope.errors import AirscopeError
from airscope.local import logs as local_logs
from airscope.local import status as local_status
from airscope.operator_mcp import limits, promql, runbooks
from airscope.operator_mcp.answers import answer
from airscope.operator_mcp.backends import Backends
from airscope.operator_mcp.sources import LogQuery, TraceQuery
from airscope.promapi import PromAPIError
from airscope.slo import budget as slo_budget
from airscope.stack import rules
from airscope.stack.rules_meta import WATCHDOG

# A tool makes a few backend requests at most, each under limits.CALL_TIMEOUT_SECONDS.
TOOL_TIMEOUT_SECONDS = 30.0
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
DURATION = "http_server_request_duration_seconds"
QUANTILES = (0.5, 0.95, 0.99)

# Declared as the tools' result type: the SDK advertises it as the output schema and checks the
# structured content against it, while ``answer`` writes the text blocks itself.
Answer = Annotated[CallToolResult, dict[str, Any]]
Moment = Annotated[
    str | None,
    Field(description="An age back from now (15m, 2h, 1d) or an RFC 3339 time; empty: now."),
]
Service = Annotated[
    str, Field(description="A catalog service name, e.g. api-gateway (the catalog tool lists them).")
]


class Tools:
    """The tools over one set of backends."""

    def __init__(self, backends: Backends) -> None:
        self.backends = backends
        self.catalog = catalog_module.load()

    def register(self, server: MCPServer) -> None:
        for tool in (
            self.status,
            self.alerts,
            self.query,
            self.query_range,
            self.red_summary,
            self.traces,
            self.trace,
            self.logs,
            self.slo_budgets,
            self.catalog_services,
        ):
            name = "catalog" if tool.__name__ == "catalog_services" else tool.__name__
            server.add_tool(_bounded(tool), name=name, description=_description(tool), annotations=READ_ONLY)

    # --- tools ----------------------------------------------------------------------------------------

    def status(self) -> Answer:
        """Every service instance now: health, up, requests/s, error ratio and p95 over the last minute,
        and the alerts firing (neither silenced nor inhibited). Locally also each instance's own /health
        and the alert pipeline's state; in production what Prometheus and Alertmanager know."""
        found = local_status.collect().as_json() if self.backends.local else self._production_status()
        rows = found["services"]
        unhealthy = [row["instance"] for row in rows if not row.get("healthy")]
        firing = sorted({a["labels"].get("alertname", "?") for a in found["firing_alerts"]})
        summary = (
            f"{len(rows) - len(unhealthy)} of {len(rows)} instances healthy"
            + (f" (not: {', '.join(unhealthy)})" if unhealthy else "")
            + (f"; firing: {', '.join(firing)}" if firing else "; no alert firing")
        )
        return answer(summary, found)

    def alerts(
        self,
        state: Annotated[
            Literal["all", "firing", "pending"], Field(description="Which alerts: firing, pending or all.")
        ] = "all",
        service: Annotated[str | None, Field(description="Only this service's alerts.")] = None,
    ) -> Answer:
        """The alerts Prometheus evaluates as firing or pending, newest first: name, state, labels, since
        when, the rule's value, summary and description, whether Alertmanager silences it, and the first
        checks of its runbook (the whole runbook is the resource runbook://NAME). The Watchdog, which
        always fires to prove the pipeline, is left out."""
        if service:
            self._service(service)
        with self.backends.prometheus() as prometheus:
            found = [a for a in prometheus.alerts() if a.labels.get("alertname") != WATCHDOG]
        silenced, problem = self._silenced()
        out = []
        for alert in found:
            if state != "all" and alert.state != state:
                continue
            if service and alert.labels.get("service") != service:
                continue
            name = alert.labels.get("alertname", "?")
            book = runbooks.name_from_url(alert.annotations.get("runbook_url")) or name
            checks = self.backends.runbooks.first_checks(book)
            key = _label_key(alert.labels)
            out.append(
                {
                    "name": name,
                    "state": alert.state,
                    "labels": dict(alert.labels),
                    "since": alert.since,
                    "value": alert.value,
                    "summary": alert.annotations.get("summary", ""),
                    "description": alert.annotations.get("description", ""),
                    "silenced_by": silenced.get(key, []),
                    "runbook": {
                        "url": alert.annotations.get("runbook_url"),
                        "resource": runbooks.uri(book) if checks is not None else None,
                        "first_checks": checks,
                    },
                }
            )
        # Firing before pending, critical before warning, the newest first among equals.
        out.sort(key=lambda a: a["since"] or "", reverse=True)
        out.sort(key=lambda a: (a["state"] != "firing", a["labels"].get("severity") != "critical"))
        summary = _alerts_line(out) if out else f"no {'' if state == 'all' else state + ' '}alert"
        return answer(summary, {"alerts": out, "alertmanager_error": problem})

    def query(
        self,
        expr: Annotated[str, Field(description="A PromQL expression.")],
        time: Moment = None,
    ) -> Answer:
        """A PromQL instant query (Prometheus' /api/v1/query) at a moment (default now): each series'
        labels and value. At most 100 series: aggregate (sum by (service) (...)) or use topk beyond.
        Values are floats; null is NaN (no data, 0/0)."""
        at = _moment(time) if time else None
        with self.backends.prometheus() as prometheus:
            samples = promql.instant(prometheus, expr, at.timestamp() if at else None)
        series = [{"labels": dict(s.labels), "value": s.value} for s in samples]
        moment = _rfc3339(samples[0].time) if samples else _rfc3339((at or _now()).timestamp())
        summary = f"{len(series)} series at {moment}" + (
            f"; first: {_series_name(series[0]['labels'])} = {series[0]['value']}" if series else ""
        )
        return answer(summary, {"expr": expr, "time": moment, "series": series})

    def query_range(
        self,
        expr: Annotated[str, Field(description="A PromQL expression.")],
        start: Annotated[
            str, Field(description="An age back from now (1h, 30m) or an RFC 3339 time.")
        ] = "1h",
        end: Moment = None,
        step: Annotated[
            str | None,
            Field(description="Seconds between points (30s, 1m); empty: the finest that fits 500 points."),
        ] = None,
    ) -> Answer:
        """A PromQL range query (Prometheus' /api/v1/query_range): each series' labels and [unix seconds,
        value] points. At most 50 series and 500 points per series: a larger step or a shorter range
        beyond. Values are floats; null is NaN."""
        span = promql.window(
            _moment(start), _moment(end) if end else _now(), _seconds(step) if step else None
        )
        with self.backends.prometheus() as prometheus:
            found = promql.range_query(prometheus, expr, span)
        series = [{"labels": dict(s.labels), "points": [[t, v] for t, v in s.points]} for s in found]
        summary = (
            f"{len(series)} series, {span.points} steps of {units.format_duration(span.step)} from "
            f"{_rfc3339(span.start)} to {_rfc3339(span.end)}"
        )
        return answer(
            summary,
            {
                "expr": expr,
                "start": _rfc3339(span.start),
                "end": _rfc3339(span.end),
                "step": span.step,
                "series": series,
            },
        )

    def red_summary(
        self,
        service: Service,
        window: Annotated[str, Field(description="How far back from the end: 15m, 1h, 90s.")] = "15m",
        end: Moment = None,
    ) -> Answer:
        """A service's rate, errors and duration over a window, from its request histogram (users'
        requests only: /metrics and /health* left out, as the alerts count): the exact count of requests
        and of 5xx answers (the counters' growth, not an extrapolation) in total and by method, route
        template and status, requests/s, the error ratio, and latency p50/p95/p99. The PromQL used is in
        the answer."""
        self._service(service)
        seconds = _seconds(window)
        stop = _moment(end) if end else _now()
        begin = stop.timestamp() - seconds
        counter = f'{DURATION}_count{{{rules.SERVED}, service="{service}"}}'
        now = f"sum by (method, route, status) ({counter})"
        # The growth between the window's two ends; `or now` for a route first counted inside it.
        counts_expr = f"({now} - sum by (method, route, status) ({counter} @ {begin:.3f})) or {now}"
        rng = f"{max(1, round(seconds))}s"
        buckets = f'sum by (le) (increase({DURATION}_bucket{{{rules.SERVED}, service="{service}"}}[{rng}]))'
        quantile_exprs = {f"p{round(q * 100)}": f"histogram_quantile({q}, {buckets})" for q in QUANTILES}
        at = stop.timestamp()
        with self.backends.prometheus() as prometheus:
            rows = promql.instant(prometheus, counts_expr, at)
            latency = {name: prometheus.value(expr, at) for name, expr in quantile_exprs.items()}
        failed = rules.FAILED
        by_route = sorted(
            (
                {
                    "method": s.labels.get("method", ""),
                    "route": s.labels.get("route", ""),
                    "status": s.labels.get("status", ""),
                    "requests": round(s.value or 0),
                }
                for s in rows
                if round(s.value or 0) > 0
            ),
            key=lambda r: (-r["requests"], r["route"], r["method"], r["status"]),
        )
        requests = sum(r["requests"] for r in by_route)
        errors = sum(r["requests"] for r in by_route if _matches(failed, r["status"]))
        data = {
            "service": service,
            "start": _rfc3339(begin),
            "end": _rfc3339(at),
            "window_seconds": seconds,
            "requests": requests,
            "errors": errors,
            "error_ratio": errors / requests if requests else None,
            "requests_per_second": requests / seconds,
            "latency_seconds": latency,
            "by_route": by_route,
            "queries": {"requests": counts_expr, **quantile_exprs},
        }
        p95 = latency.get("p95")
        summary = (
            f"{service} over {units.format_duration(seconds)} to {_rfc3339(at)}: {requests} requests "
            f"({requests / seconds:.2f}/s), {errors} failed"
            + (f" ({errors / requests:.1%}, 5xx and 499)" if requests else "")
            + (f", p95 {p95 * 1000:.0f} ms" if p95 is not None else ", no latency (no request)")
        )
        return answer(summary, data)

    def traces(
        self,
        service: Annotated[
            str | None, Field(description="Only traces with a span from this service.")
        ] = None,
        min_duration: Annotated[
            str | None, Field(description="Only traces lasting at least this long: 500ms, 2s.")
        ] = None,
        errors: Annotated[bool, Field(description="Only traces with a span whose status is ERROR.")] = False,
        since: Annotated[str, Field(description="Only traces begun since: an age (1h) or RFC 3339.")] = "1h",
        limit: Annotated[
            int, Field(ge=1, le=limits.MAX_TRACES, description="At most this many (1-50).")
        ] = 20,
    ) -> Answer:
        """Recent traces, newest first, as `airscope traces` lists them: trace id, root span, start,
        duration, span count, services, whether a span failed. At most 50; `trace` gives one whole."""
        if service:
            self._service(service.partition("@")[0])
        source = self.backends.trace_source()
        query = TraceQuery(
            service=service,
            min_duration_ns=round(_seconds(min_duration) * 1e9) if min_duration else 0,
            errors=errors,
            since=_moment(since),
            limit=limit,
        )
        found = source.recent(query)[:limit]
        summary = f"{len(found)} trace(s) from {source.where}"
        return answer(summary, {"where": source.where, "query": source.describe(query), "traces": found})

    def trace(
        self,
        trace_id: Annotated[
            str, Field(description="32 hex digits: a response's X-Trace-Id, a log line's trace_id.")
        ],
    ) -> Answer:
        """One request across services, as `airscope trace --json` gives it: the summary and its spans
        as a tree (service, instance, name, start offset and duration in ms, status, attributes). At most
        1000 spans; a larger trace is cut and says so."""
        trace_id = _trace_id(trace_id)
        source = self.backends.trace_source()
        found = source.trace(trace_id)
        kept, cut = _bounded_tree(found.get("spans", []), limits.MAX_SPANS)
        found = {**found, "spans": kept, "spans_cut": cut}
        root = found.get("root") or {}
        summary = (
            f"trace {trace_id}: {root.get('service')}: {root.get('name')}, "
            f"{found.get('duration_ms')} ms, {found.get('span_count', '?')} spans"
            + (f" ({cut} not shown)" if cut else "")
        )
        return answer(summary, found)

    def logs(
        self,
        service: Annotated[
            list[str] | str | None,
            Field(description="Only this service's lines (a name or a list of names)."),
        ] = None,
        level: Annotated[
            Literal["debug", "info", "warning", "error", "critical"] | None,
            Field(description="This level and above."),
        ] = None,
        trace_id: Annotated[
            str | None, Field(description="Only the lines of this trace (32 hex digits).")
        ] = None,
        since: Annotated[str, Field(description="Lines from then on: an age (15m) or RFC 3339.")] = "15m",
        until: Moment = None,
        grep: Annotated[
            str | None, Field(description="Only lines containing this text (case-sensitive).")
        ] = None,
        limit: Annotated[
            int, Field(ge=1, le=limits.MAX_LOG_LINES, description="The last N lines (1-500).")
        ] = 100,
    ) -> Answer:
        """Log lines, oldest first, as `airscope logs --json` gives them (the JSON each service wrote:
        timestamp, level, service, event, trace_id...; other programs' plain lines as {timestamp,
        program, text}). The last `limit` matching lines, at most 500; a line longer than 2000
        characters is cut."""
        services = (service,) if isinstance(service, str) else tuple(service or ())
        for name in services:
            self._service(name)
        source = self.backends.log_source()
        query = LogQuery(
            services=services,
            level=level,
            trace_id=_trace_id(trace_id) if trace_id else None,
            since=_moment(since),
            until=_moment(until) if until else None,
            grep=grep or None,
            limit=limit,
        )
        lines = [_cut_line(line) for line in source.lines(query)[-limit:]]
        summary = f"{len(lines)} line(s) from {source.where}"
        return answer(summary, {"where": source.where, "query": source.describe(query), "lines": lines})

    def slo_budgets(
        self,
        service: Annotated[str | None, Field(description="Only this service's SLOs.")] = None,
    ) -> Answer:
        """Each SLO's error budget over the rolling 30 days, worst first, as `airscope slo --json` gives
        it: objective, actual SLI, share of the budget left, bad requests and minutes of full outage
        still allowed, burn rates over 1h/6h/3d, and when it runs out at the 1h rate."""
        if service:
            self._service(service)
        with self.backends.prometheus() as prometheus:
            found = slo_budget.budgets(prometheus, self.catalog, service=service)
        items = [b.as_json() for b in found]
        shown = [
            f"{b.service} {b.sli} {'-' if b.remaining is None else f'{b.remaining:.0%}'} left"
            for b in found[:3]
        ]
        summary = f"{len(items)} SLO(s), worst first: {'; '.join(shown)}" if items else "no SLO"
        return answer(summary, {"budgets": items})

    def catalog_services(self) -> Answer:
        """The platform as the catalog describes it: each service's owner team, tier, the services it
        calls and is called by, what it requires (PostgreSQL, Redis), the outside SaaS it reaches, and its
        SLOs; and each team's chat channel and pager."""
        services = self.catalog.services
        called_by = {name: sorted(n for n, s in services.items() if name in s.calls) for name in services}
        data = {
            "services": [
                {
                    "name": s.name,
                    "owner": s.owner,
                    "tier": s.tier,
                    "calls": list(s.calls),
                    "called_by": called_by[s.name],
                    "requires": list(s.requires),
                    "external": list(s.external),
                    "slo": {
                        "availability": s.slo.availability,
                        "latency_seconds": s.slo.latency_seconds,
                        "latency_target": s.slo.latency_target,
                    },
                    "high_latency_seconds": s.alert_latency_seconds,
                }
                for s in services.values()
            ],
            "teams": [team.model_dump(mode="json") for team in self.catalog.teams.values()],
        }
        summary = f"{len(services)} services, {len(self.catalog.teams)} teams"
        return answer(summary, data)

    # --- helpers ---------------------------------------------------------------------------------------

    def _service(self, name: str) -> None:
        if name not in self.catalog.services:
            raise ToolError(
                f"no service {name!r} in the catalog (there are: {', '.join(self.catalog.services)})"
            )

    def _silenced(self) -> tuple[dict[tuple, list[str]], str | None]:
        """Alertmanager's silences by alert labels, and why there are none when it did not answer."""
        try:
            with self.backends.alertmanager() as alertmanager:
                held = alertmanager.alerts(active=True, silenced=True, inhibited=True)
        except PromAPIError as exc:
            return {}, str(exc)
        return {_label_key(a.labels): list(a.silenced_by) for a in held if a.silenced_by}, None

    def _production_status(self) -> dict:
        """What ``airscope status --json`` says, from Prometheus and Alertmanager alone."""
        with self.backends.prometheus() as prometheus:
            up = prometheus.query(local_status.QUERIES["up"])
            values = {
                key: prometheus.values_by(query, "instance")
                for key, query in local_status.QUERIES.items()
                if key != "up"
            }
        firing = []
        problem = None
        try:
            with self.backends.alertmanager() as alertmanager:
                firing, _ = local_status.without_watchdog(local_status.firing_alerts(alertmanager))
        except PromAPIError as exc:
            problem = str(exc)
        rows = []
        for sample in sorted(up, key=lambda s: (s.labels.get("service", ""), s.labels.get("instance", ""))):
            instance = sample.labels.get("instance", "")
            service = sample.labels.get("service", "")
            rows.append(
                {
                    "service": service,
                    "instance": instance,
                    "up": sample.value,
                    "rps": values["rps"].get(instance),
                    "error_ratio": values["errors"].get(instance),
                    "p95_seconds": values["p95"].get(instance),
                    "alerts": sorted(
                        {
                            a["labels"].get("alertname", "?")
                            for a in firing
                            if a["labels"].get("service") == service
                        }
                    ),
                    "healthy": sample.value == 1,
                }
            )
        return {"services": rows, "firing_alerts": firing, "alertmanager_error": problem}


def _bounded(method: Callable[..., Answer]) -> Callable[..., Any]:
    """The tool as the SDK calls it: in a worker thread, under TOOL_TIMEOUT_SECONDS, every failure the
    caller can act on a ToolError with its message (the session goes on)."""

    @functools.wraps(method)
    async def call(**kwargs: Any) -> Answer:
        try:
            with anyio.fail_after(TOOL_TIMEOUT_SECONDS):
                return await anyio.to_thread.run_sync(
                    functools.partial(method, **kwargs), abandon_on_cancel=True
                )
        except TimeoutError:
            raise ToolError(
                f"{method.__name__} took longer than {TOOL_TIMEOUT_SECONDS:.0f} s: narrow it (a shorter window, a service)"
            ) from None
        except ToolError:
            raise
        except (AirscopeError, ValueError, KeyError) as exc:
            raise ToolError(str(exc).strip("\"'")) from None

    return call


def _alerts_line(alerts: list[dict]) -> str:
    """``5 alert(s): firing ServiceDown (airtable-gateway), MCPToolErrors x3 (mcp-server); pending ...``:
    one entry per state, name and service, so that an alert with a label per tool or window is one."""
    groups: dict[tuple[str, str, str], int] = {}
    for alert in alerts:
        key = (alert["state"], alert["name"], alert["labels"].get("service", "-"))
        groups[key] = groups.get(key, 0) + 1
    parts = []
    for state in ("firing", "pending"):
        named = [
            f"{name}{f' x{n}' if n > 1 else ''} ({service})"
            for (s, name, service), n in groups.items()
            if s == state
        ]
        if named:
            parts.append(f"{state} {', '.join(named)}")
    return f"{len(alerts)} alert(s): {'; '.join(parts)}"


def _description(method: Callable[..., Any]) -> str:
    return " ".join((method.__doc__ or "").split())


def _now() -> datetime:
    return datetime.now(UTC)


def _moment(text: str) -> datetime:
    try:
        return local_logs.parse_since(text)
    except ValueError as exc:
        raise ToolError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        seconds = units.parse_duration(text)
    except ValueError as exc:
        raise ToolError(f"{text!r} is not a duration (500ms, 30s, 15m, 2h): {exc}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ToolError(f"{text!r}: a duration must be positive")
    return seconds


def _trace_id(text: str) -> str:
    try:
        return local_logs.parse_trace_id(text.strip())
    except ValueError as exc:
        raise ToolError(str(exc)) from None


def _rfc3339(seconds: float) -> str:
    return local_logs.format_timestamp(datetime.fromtimestamp(seconds, UTC))


def _series_name(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}"


def _label_key(labels: Any) -> tuple:
    return tuple(sorted(dict(labels).items()))


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _cut_line(line: dict) -> dict:
    """A log line whose long text values are cut at limits.MAX_LINE_CHARS, saying so."""
    out = {}
    for key, value in line.items():
        if isinstance(value, str) and len(value) > limits.MAX_LINE_CHARS:
            value = (
                value[: limits.MAX_LINE_CHARS] + f"[... {len(value) - limits.MAX_LINE_CHARS} characters cut]"
            )
        out[key] = value
    return out


def _bounded_tree(spans: list[dict], budget: int) -> tuple[list[dict], int]:
    """The span tree's first ``budget`` spans in tree order, and how many were left out."""
    kept = 0

    def walk(nodes: list[dict]) -> list[dict]:
        nonlocal kept
        out = []
        for node in nodes:
            if kept >= budget:
                break
            kept += 1
            out.append({**node, "children": walk(node.get("children", []))})
        return out

    def count(nodes: list[dict]) -> int:
        return sum(1 + count(node.get("children", [])) for node in nodes)

    total = count(spans)
    if total <= budget:
        return spans, 0
    return walk(spans), total - budget
