"""Real-user monitoring metrics: what the browsers report about the UI (the kit adds the RED
metrics of the frontend's own routes).

They are fed by the page's Grafana Faro Web SDK through ``POST /faro/collect`` (faro.py). Every label
value comes from a closed set below; whatever else a payload says becomes ``other``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PAGES = ("signin", "chat", "upload", "status")
OTHER = "other"
ERROR_KINDS = ("error", "unhandledrejection", "fetch")
TIMED_VITALS = ("LCP", "INP", "FCP", "TTFB")
BEACON_OUTCOMES = ("accepted", "rejected_malformed", "rejected_too_large", "rejected_rate_limited")

# Dense around Google's "good" thresholds (INP 0.2 s, TTFB 0.8 s, FCP 1.8 s, LCP 2.5 s) and their
# "poor" ones (INP 0.5 s, TTFB 1.8 s, FCP 3 s, LCP 4 s), so the share of good page loads is a
# bucket ratio.
WEB_VITAL_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.8, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0)
# Around CLS's thresholds: good up to 0.1, poor above 0.25.
LAYOUT_SHIFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0)
# A chat answer takes one or more LLM round trips: seconds to tens of seconds.
CHAT_ANSWER_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0)

JS_ERRORS = Counter(
    "rum_js_errors_total",
    "Errors in the browsers running the UI, by kind (error: an uncaught exception; unhandledrejection: "
    "a rejected promise nobody handled; fetch: an API call that failed on the network or answered 5xx; "
    "other) and by the UI view it happened on.",
    ["kind", "page"],
)
WEB_VITAL_SECONDS = Histogram(
    "rum_web_vital_seconds",
    "Core Web Vitals and loading timings measured in the browsers by the Faro Web SDK (Google's "
    "web-vitals library), in seconds: LCP (largest contentful paint), INP (interaction to next paint), "
    "FCP (first contentful paint), TTFB (time to first byte); by the UI view that was shown.",
    ["name", "page"],
    buckets=WEB_VITAL_BUCKETS,
)
CUMULATIVE_LAYOUT_SHIFT = Histogram(
    "rum_cumulative_layout_shift",
    "Cumulative Layout Shift (CLS, unitless: how much visible content moved unexpectedly) of each page "
    "load, by the UI view that was shown.",
    ["page"],
    buckets=LAYOUT_SHIFT_BUCKETS,
)
PAGE_VIEWS = Counter(
    "rum_page_views_total",
    "Views of the UI shown in a browser (the page load and every switch between views), by view.",
    ["page"],
)
TIME_TO_FIRST_CHAT_ANSWER = Histogram(
    "rum_time_to_first_chat_answer_seconds",
    "Per page load, from sending the first chat message to its answer shown on screen, as the user "
    "saw it (network, gateway, LLM and tool calls, rendering).",
    buckets=CHAT_ANSWER_BUCKETS,
)
BEACONS = Counter(
    "rum_beacons_total",
    "Faro payloads posted to /faro/collect by the page's monitoring, by outcome: accepted, or rejected "
    "(malformed or compressed, too large, rate limited). A rejected payload changes no other rum_* metric.",
    ["outcome"],
)

# Exported from the start, so that a rate or a ratio sees 0 before the first event.
for _outcome in BEACON_OUTCOMES:
    BEACONS.labels(_outcome)
for _page in (*PAGES, OTHER):
    PAGE_VIEWS.labels(_page)
    for _kind in (*ERROR_KINDS, OTHER):
        JS_ERRORS.labels(_kind, _page)
    # A histogram's first observation makes its series, with count 1: rate() sees no increase, and a
    # p75 panel stayed empty after the first page loads (the local console showed it).
    CUMULATIVE_LAYOUT_SHIFT.labels(_page)
    for _vital in TIMED_VITALS:
        WEB_VITAL_SECONDS.labels(_vital, _page)
