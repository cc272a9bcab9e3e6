"""docs/thresholds.md: where each alert's threshold comes from, and each service's HighLatency one.

A threshold is one of four kinds, and a reader deciding whether to trust a page should know which:

- **measured**: derived from this platform's own behaviour (the kept baselines of `airscope bench`),
- **SLO**: the catalog's objectives, or a threshold set no lower than an SLO's (a floor),
- **borrowed**: a published value adopted as is (the SRE workbook, a monitoring mixin, Google's
  web vitals),
- **judgement**: a number someone chose for a reason the settings' comments give, not measured.

The values are read from the settings, the catalog and the baselines, so the page cannot go stale;
the kind and the reason of each alert are said here, once, and a new alert without one fails
``airscope gen``.
"""

from __future__ import annotations

from airscope import catalog as service_catalog
from airscope import checkout, tables
from airscope.bench import thresholds
from airscope.bench.result import JSON_PATH, Result
from airscope.catalog import Catalog
from airscope.errors import AirscopeError
from airscope.stack import rules, settings

PATH = "docs/thresholds.md"

MEASURED, SLO, BORROWED, JUDGEMENT = "measured", "SLO", "borrowed", "judgement"


def _pct(share: float) -> str:
    return f"{share * 100:g}%"


def _alerts() -> dict[str, tuple[str, str, str]]:
    """alert -> (its threshold, its kind, where it comes from)."""
    burn = ", ".join(
        f"{factor:g}x over {long}/{short}" for _, long, short, factor, _ in settings.BURN_RATE_ALERTS
    )
    fill = " and ".join(f"full within {h}, under {_pct(s)} free" for _, h, s in settings.DISK_FILL_ALERTS)
    return {
        "ServiceDown": (
            "no scrape answered (`up == 0`, or no target)",
            JUDGEMENT,
            "a fact, not a level: the `for` decides",
        ),
        "HighErrorRate": (
            f"over {_pct(settings.ERROR_RATIO_THRESHOLD)} 5xx over 5 min, at least "
            f"{settings.HIGH_ERROR_RATE_MIN_REQUESTS} requests",
            JUDGEMENT,
            "where users notice; the floor makes a single 5xx at most the threshold, never above",
        ),
        "HighLatency": (
            "the catalog's `high_latency_seconds` per service (table below)",
            f"{MEASURED} or {SLO}",
            f"{thresholds.FACTOR:g}x the normal p95 as a bucket, at least {thresholds.FLOOR_SECONDS:g} s, never "
            "below the SLO latency threshold for a service waiting on a SaaS: per service below",
        ),
        "DatabaseConnectionFailure": (
            "the exporter's `pg_up == 0`, a failing health check",
            JUDGEMENT,
            "a fact",
        ),
        "RedisConnectionFailure": (
            "the exporter's `redis_up == 0`, a failing health check",
            JUDGEMENT,
            "a fact",
        ),
        "DiskSpaceLow": (
            f"under {_pct(settings.DISK_FREE_WARNING)} / {_pct(settings.DISK_FREE_CRITICAL)} free",
            JUDGEMENT,
            "days of headroom on a typical volume / the stores about to fail writing",
        ),
        "DiskSpaceFillingUp": (
            f"the last {settings.DISK_FILL_TREND_WINDOW}'s trend: {fill}",
            BORROWED,
            "kube-prometheus' NodeFilesystemSpaceFillingUp",
        ),
        "HighMemoryUsage": (
            f"a process over {_pct(settings.MEMORY_USAGE_THRESHOLD)} of its catalog `memory_limit`; "
            f"the host under {_pct(settings.HOST_MEMORY_AVAILABLE)} available",
            JUDGEMENT,
            "one spike from the OOM killer; the limits themselves are the catalog's",
        ),
        "ErrorBudgetBurn": (
            f"burn rates {burn}; the short window holding enough requests that one 5xx is within it",
            f"{BORROWED} and {SLO}",
            "the SRE workbook's table 5-8, over the catalog's `slo.availability`; the floor is "
            "HighErrorRate's reasoning (judgement)",
        ),
        "LatencyBudgetBurn": (
            f"burn rates {burn}; the short window holding enough requests that one slow one is within it",
            f"{BORROWED} and {SLO}",
            "the SRE workbook's table 5-8, over the catalog's `slo.latency_seconds` and `latency_target`; "
            "the floor as ErrorBudgetBurn's",
        ),
        "LoginAbuse": (
            f"a client at its limit of failed logins; over {_pct(settings.LOGIN_FAILURE_RATIO)} of logins "
            f"failing, over {settings.LOGIN_FAILURES_PER_SECOND:g}/s",
            JUDGEMENT,
            "real users fail about one in five (the load mix: 27%); stuffing fails almost always",
        ),
        "ChatAnswersFailing": (
            f"over {_pct(settings.CHAT_FAILURE_RATIO)} of chats failing, at least {settings.CHAT_ANSWERS_MIN}",
            JUDGEMENT,
            "a few percent at most normally, nearly all when broken (issue 16)",
        ),
        "SagasFailing": (
            f"over {_pct(settings.SAGA_FAILURE_RATIO)} of sagas undone over {settings.SAGA_WINDOW}, at least "
            f"{settings.SAGA_FAILURES_MIN}; any saga failed",
            JUDGEMENT,
            "a few a day are users' own",
        ),
        "JobsDeadLettered": ("any job given up", JUDGEMENT, "an event that should not happen"),
        "QueueBacklog": (
            f"the oldest job waiting over {settings.QUEUE_OLDEST_JOB_SECONDS} s",
            JUDGEMENT,
            "a small job waits seconds for a worker",
        ),
        "LLMBudgetExhausted": (
            "today's spend at `LLM_DAILY_BUDGET_USD`",
            JUDGEMENT,
            "a fact: the budget configured",
        ),
        "LLMBudgetNearlySpent": (
            f"today's spend over {_pct(settings.LLM_BUDGET_WARNING)} of the budget",
            JUDGEMENT,
            "time left to act before chats are refused",
        ),
        "MCPToolErrors": (
            f"over {_pct(settings.MCP_TOOL_ERROR_RATIO)} of a tool's calls failing, at least "
            f"{settings.MCP_TOOL_CALLS_MIN}",
            JUDGEMENT,
            "a few percent from users' own mistakes, nearly all when broken",
        ),
        "AirtableRateLimited": (
            f"at least {settings.AIRTABLE_429_MIN} 429s in 5 min",
            JUDGEMENT,
            "the limiter is meant to make them none",
        ),
        "AirtableLimiterSaturated": (
            f"p95 wait for a token over {settings.AIRTABLE_LIMITER_WAIT_SECONDS:g} s",
            JUDGEMENT,
            "the limiter's design: a burst of 5 leaves at once, the next waits up to a second (Airtable's "
            "5/s per base)",
        ),
        "FrontendErrors": (
            f"over {settings.FRONTEND_ERRORS_PER_VIEW:g} errors per page view, at least "
            f"{settings.FRONTEND_VIEWS_MIN} views",
            JUDGEMENT,
            "a working UI raises almost none",
        ),
        "PoorWebVitals": (
            ", ".join(f"{k} {v:g} s" for k, v in settings.WEB_VITALS_POOR.items())
            + f", CLS {settings.LAYOUT_SHIFT_POOR:g} at p75",
            BORROWED,
            'Google\'s "poor" thresholds (web.dev/vitals)',
        ),
        "Watchdog": ("always firing", JUDGEMENT, "the pipeline's heartbeat"),
        "TargetDown": ("a scrape target not answering", JUDGEMENT, "a fact"),
        "AlertmanagerNotificationsFailing": (
            "any notification given up",
            JUDGEMENT,
            "one lost page is too many",
        ),
        "PrometheusRuleFailures": ("any rule evaluation failing", JUDGEMENT, "a rule that fails cannot fire"),
        "PrometheusRemoteWriteFailing": (
            f"over {_pct(settings.REMOTE_WRITE_FAILED_RATIO)} of samples refused",
            BORROWED,
            "the prometheus-mixin's",
        ),
        "PrometheusRemoteWriteBehind": (
            f"over {settings.REMOTE_WRITE_BEHIND_SECONDS} s behind",
            BORROWED,
            "the prometheus-mixin's",
        ),
        "TelemetryDropped": (
            "any telemetry dropped, still",
            JUDGEMENT,
            "the kit's buffers should ride out bursts",
        ),
        "ProbeFailing": ("a probe failing while the scrape answers", JUDGEMENT, "a fact"),
    }


def alert_table(catalog: Catalog) -> str:
    names = list(dict.fromkeys(r["alert"] for g in rules.alerts(catalog)["groups"] for r in g["rules"]))
    known = _alerts()
    if missing := [name for name in names if name not in known]:
        raise AirscopeError(
            f"src/airscope/gen/thresholds.py says nothing of {', '.join(missing)}: give each its "
            "threshold, kind and source"
        )
    rows = [(f"[{name}](runbooks/{name}.md)", *known[name]) for name in names]
    return tables.markdown(("alert", "threshold", "kind", "from"), rows)


def service_table(catalog: Catalog, result: Result) -> str:
    step = result.normal_step()
    found = thresholds.measured(result)
    waiting = thresholds.waits_on_saas(dict(catalog.services))
    rows = []
    for name, service in catalog.services.items():
        t = step.telemetry.get(name) if step else None
        value = found.get(name)
        kind = thresholds.source(name, value, catalog.services)
        rows.append(
            (
                name,
                "-" if t is None or t.server_p95_ms is None else f"{t.server_p95_ms:,.1f} ms",
                "too few requests" if value is None else f"{value:g} s",
                "yes" if name in waiting else "no",
                f"{service.slo.latency_seconds:g} s",
                f"**{service.alert_latency_seconds:g} s**",
                kind,
                f"{_pct(service.slo.availability)}; {_pct(service.slo.latency_target)} under "
                f"{service.slo.latency_seconds:g} s",
            )
        )
    header = (
        "service",
        "normal p95 (bench)",
        f"{thresholds.FACTOR:g}x as a bucket",
        "waits on an outside SaaS",
        "SLO latency threshold",
        "HighLatency threshold",
        "from",
        "SLO (judgement, per tier)",
    )
    return tables.markdown(header, rows)


def render(catalog: Catalog, result: Result) -> str:
    queries = thresholds.week_queries("7d")
    floors = [
        name
        for name in catalog.services
        if thresholds.source(name, thresholds.measured(result).get(name), catalog.services)
        != thresholds.MEASURED
    ]
    return f"""<!-- Generated by `airscope gen` from src/airscope/gen/thresholds.py, the settings, the catalog
and docs/performance/baselines.json: edit those, not this file. -->
# Where the thresholds come from

Each alert's threshold is one of four kinds, and whether a page means something depends on which:
**measured** (this platform's own behaviour, from the kept baselines of `airscope bench`), **SLO**
(the catalog's objectives, or a floor no lower than one), **borrowed** (a published value adopted as
is: the SRE workbook, a monitoring mixin, Google's web vitals) and **judgement** (a number chosen for
the reason the comment beside it in `src/airscope/stack/settings.py` gives; not measured). How long
each waits, and why: [alerting.md](alerting.md).

## Per alert

{alert_table(catalog)}

## HighLatency, per service

The rule (`src/airscope/bench/thresholds.py`): the smallest latency bucket at or above
{thresholds.FACTOR:g}x the service's p95 at the normal load of the last `airscope bench` run (probes
left out), at least {thresholds.FLOOR_SECONDS:g} s; a service with fewer than
{thresholds.MIN_REQUESTS} requests in that step has no measurement and uses its SLO latency
threshold. A service whose answers wait on an outside SaaS (it reaches Airtable or the LLM provider,
or calls a service that does) never goes below its SLO latency threshold: the local runs use the
stand-ins at zero added latency, and cannot show the providers' own. So a threshold is **measured**
when the measurement decides it, an **SLO floor** when the SLO threshold is above the measurement,
and **{thresholds.NO_DATA}** when nothing was measured. The catalog holds each
(`high_latency_seconds`); a test fails when it and the kept baselines disagree.

{service_table(catalog, result)}

Of {len(catalog.services)} services, {len(catalog.services) - len(floors)} are measured; for
{", ".join(floors)}, the threshold is the SLO's, and HighLatency says little that
[LatencyBudgetBurn](runbooks/LatencyBudgetBurn.md) does not (it mutes HighLatency while it fires).
A production week is the better anchor for those.

## Re-deriving them from a production week

The same rule applied to Prometheus' own recording rules: the typical 5-minute p95 of a week (the
median of `{settings.LATENCY_QUANTILE}`, which leaves the probes out and records nothing for a
window without requests), and the requests of that week (at least {thresholds.MIN_REQUESTS}):

```promql
{queries["p95"]}
```

```promql
{queries["requests"]}
```

then {thresholds.FACTOR:g}x the p95, as a bucket, at least {thresholds.FLOOR_SECONDS:g} s, and for
a service waiting on a SaaS at least its SLO latency threshold. `airscope thresholds` does all of it
and prints the proposals beside the catalog's values:

```console
$ .venv/bin/airscope thresholds --prometheus-url http://127.0.0.1:9090
```

Against production, give it Prometheus' URL (it keeps 31 days) or Mimir's Prometheus API
(`http://<mimir>:9009/prometheus`, a year), `--range` another length, `--json` for a script. Pick a
week without an incident in it, and one a week after this version's rules were deployed: the
recording rule counted the probes before. Copy a proposal into
`src/airscope/catalog/catalog.yaml` (`high_latency_seconds`) and run `.venv/bin/airscope gen`.
`tests/bench/test_platform_bench.py` holds the catalog to the kept local baselines: a value taken
from production replaces that anchor, so record it there as the exception it is, with the week it
came from.
"""


def generate() -> dict[str, str]:
    root = checkout.root()
    baselines = root / JSON_PATH
    if not baselines.is_file():  # a test's empty root: nothing to say where thresholds come from
        return {}
    return {PATH: render(service_catalog.load(), Result.read(baselines))}
