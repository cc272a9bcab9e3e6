"""The page under its own Content-Security-Policy in a real headless Chromium: it loads and runs
without a single violation, and a script injected into it does not run."""

from __future__ import annotations

import pytest

FRONTEND = "airscope.services.frontend"
DOUBLE = "tests.services.echo:gateway_double"
CSP_REFUSAL = "Content Security Policy"  # in every message Chromium logs for a violation


@pytest.fixture
def frontend(run_app) -> str:
    gateway = run_app(DOUBLE)
    return run_app(FRONTEND, env={"AIRSCOPE_URL_API_GATEWAY": gateway.url}).url


def test_the_page_runs_within_its_policy_and_an_injected_script_does_not(frontend, page):
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(frontend + "/")
    page.wait_for_selector("#view-signin:not([hidden])")  # app.js ran
    # So did the vendored Faro, its tracing and the monitoring that starts them.
    page.wait_for_function(
        "() => typeof window.faro === 'object' && typeof window.faro.api.getOTEL() === 'object'"
    )
    page.click('a[data-view="status"]')
    page.wait_for_selector("#view-status:not([hidden])")
    assert [text for text in console if CSP_REFUSAL in text] == []

    injected = page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.head.appendChild(script);
            return window.injected === true;
        }"""
    )
    assert injected is False
    page.wait_for_timeout(200)  # the violation's console message arrives after the evaluation
    assert any(CSP_REFUSAL in text and "inline script" in text for text in console), console
