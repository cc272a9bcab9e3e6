"""static/panels/timeseries.js in a real headless Chromium: the legend the tests and the eye read,
null gaps, stacking, and exemplars that open their trace. The page's files come from the package
(static/, the vendored uPlot) through a route, so no server runs."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from airscope.console.app import STATIC
from tests.conftest import CHROMIUM

if TYPE_CHECKING:
    from playwright.sync_api import Page

ORIGIN = "http://console.test"
STEP_MS = 15_000
START = 1_800_000_000_000

SHELL = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/vendor/uPlot.min.css"></head>
<body style="background:#111217"><div id="panel" style="width:800px;height:320px"></div>
<script type="module">
import * as ts from "/static/panels/timeseries.js";
window.ts = ts;
window.draw = async (panel, frames) => {
  window.navigated = null;
  const el = document.getElementById("panel");
  return await ts.render(el, panel, frames, {
    from: "now-1h", to: "now", fromMs: START_MS, toMs: END_MS, dashboard: "test",
    navigate: (url) => { window.navigated = url; },
  });
};
window.ready = true;
</script></body></html>""".replace("START_MS", str(START)).replace("END_MS", str(START + 40 * STEP_MS))


def series_frame(*series, exemplars=()):
    return {"kind": "series", "series": list(series), "exemplars": list(exemplars), "step": STEP_MS / 1000}


def points(values):
    return [[START + i * STEP_MS, v] for i, v in enumerate(values) if v != "skip"]


def panel(**fieldconfig_and_options):
    legend = fieldconfig_and_options.pop("legend", {"displayMode": "list", "calcs": [], "showLegend": True})
    return {
        "id": 1,
        "type": "timeseries",
        "title": "t",
        "fieldConfig": {
            "defaults": {"unit": "s", "custom": {"fillOpacity": 10}, **fieldconfig_and_options},
            "overrides": [],
        },
        "options": {"legend": legend, "tooltip": {"mode": "multi"}},
    }


@pytest.fixture(scope="module")
def shell() -> Iterator[Page]:
    """One Chromium for the module (a launch costs seconds), its page routed to the package's files."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.route(f"{ORIGIN}/**", serve)
            yield page
        finally:
            browser.close()


def serve(route) -> None:
    path = route.request.url.removeprefix(ORIGIN)
    if path == "/":
        return route.fulfill(body=SHELL, content_type="text/html")
    file = STATIC / path.removeprefix("/static/").split("?")[0]
    if not path.startswith("/static/") or not file.is_file():
        return route.fulfill(status=404, body="not found")
    kind = "text/javascript" if file.suffix == ".js" else mimetypes.guess_type(file.name)[0]
    return route.fulfill(body=file.read_bytes(), content_type=kind or "application/octet-stream")


@pytest.fixture
def chart(shell):
    page = shell
    errors: list[str] = []

    def on_console(message) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_error(error) -> None:
        errors.append(str(error))

    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("window.ready === true")

    def draw(p, frames):
        return page.evaluate("([p, f]) => window.draw(p, f)", [p, frames])

    yield page, draw
    page.remove_listener("console", on_console)
    page.remove_listener("pageerror", on_error)
    assert errors == []


def legend(page):
    return page.locator(".legend-row").evaluate_all(
        "rows => rows.map(r => [r.dataset.series, r.dataset.last ?? null,"
        " r.querySelector('.legend-last')?.textContent ?? null])"
    )


def test_legend_rows_carry_each_series_last_value(chart):
    page, draw = chart
    frames = {
        "A": series_frame(
            {"name": "api-gateway", "labels": {}, "points": points([0.1, 0.2, 0.25, None])},
            {"name": "users", "labels": {}, "points": points([0.5, 0.4])},
        )
    }
    assert draw(panel(), frames) == "data"
    assert legend(page) == [["api-gateway", "0.25", None], ["users", "0.4", None]]
    assert page.locator(".ts-chart canvas").count() == 1

    p = panel(legend={"displayMode": "table", "calcs": ["mean", "lastNotNull"], "showLegend": True})
    assert draw(p, frames) == "data"
    assert page.locator(".ts-legend table th").all_inner_texts() == ["Name", "Mean", "Last *"]
    assert legend(page) == [["api-gateway", "0.25", "250 ms"], ["users", "0.4", "400 ms"]]


def test_a_hidden_legend_is_not_shown_but_keeps_its_values(chart):
    page, draw = chart
    p = panel(legend={"displayMode": "hidden", "showLegend": False, "calcs": []})
    draw(p, {"A": series_frame({"name": "x", "labels": {}, "points": points([1, 2])})})
    assert page.locator(".ts-legend").is_hidden()
    assert legend(page) == [["x", "2", None]]


def test_a_missing_step_is_a_gap_and_all_null_is_empty(chart):
    page, draw = chart
    frames = {"A": series_frame({"name": "x", "labels": {}, "points": points([1, 2, "skip", "skip", 5])})}
    aligned = page.evaluate("f => { const c = window.ts.collect(f); return c.series[0].values; }", frames)
    assert aligned == [1, 2, None, 5]
    empty = {"A": series_frame({"name": "x", "labels": {}, "points": points([None, None])})}
    assert draw(panel(), empty) == "empty"
    assert page.locator(".ts-empty").inner_text() == "No data"


def test_percent_stacking_draws_shares_and_the_legend_keeps_values(chart):
    page, draw = chart
    p = panel(custom={"stacking": {"mode": "percent"}, "fillOpacity": 30})
    frames = {
        "A": series_frame(
            {"name": "a", "labels": {}, "points": points([1, 3])},
            {"name": "b", "labels": {}, "points": points([3, 1])},
        )
    }
    assert draw(p, frames) == "data"
    drawn = page.evaluate("document.getElementById('panel').__timeseries.plot.data.slice(1)")
    assert drawn == [[0.25, 0.75], [1, 1]]
    assert legend(page) == [["a", "3", None], ["b", "1", None]]


def test_an_exemplar_is_a_link_to_its_trace(chart):
    page, draw = chart
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    frames = {
        "A": series_frame(
            {"name": "p95", "labels": {}, "points": points([0.1, 0.2, 0.3])},
            exemplars=[
                {"ms": START + STEP_MS, "value": 0.2, "traceId": trace, "labels": {"service": "users"}}
            ],
        )
    }
    draw(panel(), frames)
    link = page.locator("a.exemplar")
    assert link.get_attribute("href") == f"/explore?trace={trace}"
    link.click()
    assert page.evaluate("window.navigated") == f"/explore?trace={trace}"


def test_thresholds_overrides_and_a_second_unit_draw_without_error(chart):
    page, draw = chart
    p = panel(
        unit="percentunit",
        custom={"thresholdsStyle": {"mode": "dashed+area"}, "lineWidth": 2},
        thresholds={
            "mode": "absolute",
            "steps": [{"color": "green", "value": None}, {"color": "red", "value": 0.05}],
        },
        min=0,
        max=1,
    )
    p["fieldConfig"]["overrides"] = [
        {"matcher": {"id": "byName", "options": "rate"}, "properties": [{"id": "unit", "value": "reqps"}]},
        {
            "matcher": {"id": "byRegexp", "options": "err.*"},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}],
        },
    ]
    frames = {
        "A": series_frame({"name": "errors", "labels": {}, "points": points([0.01, 0.07])}),
        "B": series_frame({"name": "rate", "labels": {}, "points": points([12, 14])}),
    }
    assert draw(p, frames) == "data"
    scales = page.evaluate(
        "(() => { const u = document.getElementById('panel').__timeseries.plot;"
        " return [u.scales.y.min, u.scales.y.max, Object.keys(u.scales).sort(), u.series[1].stroke()]; })()"
    )
    assert scales == [0, 1, ["x", "y", "y2"], "#F2495C"]
    assert json.dumps(legend(page)) == json.dumps([["errors", "0.07", None], ["rate", "14", None]])
