"""A dashboard's choice of metrics store in a real headless Chromium: the console itself (its app,
through a TestClient; a fake Prometheus behind it) answers every request the page makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from airscope.console.app import create_app
from tests.conftest import CHROMIUM
from tests.console.test_api_dashboards import config, fake  # noqa: F401  (fixtures)

if TYPE_CHECKING:
    from playwright.sync_api import Page

ORIGIN = "http://console.test"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, config) -> Iterator[Page]:  # noqa: F811
    client = TestClient(create_app(config))

    def serve(route) -> None:
        request = route.request
        answer = client.request(
            request.method,
            request.url.removeprefix(ORIGIN),
            content=request.post_data_buffer,
            headers={"content-type": request.headers.get("content-type", "application/json")},
        )
        route.fulfill(status=answer.status_code, body=answer.content, headers=dict(answer.headers))

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route(f"{ORIGIN}/**", serve)
    yield page
    page.close()
    assert errors == []


def choice(page: Page) -> list[tuple[str, str, bool]]:
    select = page.locator('[data-variable="datasource"] select')
    select.wait_for()
    return select.locator("option").evaluate_all(
        "options => options.map(o => [o.textContent, o.value, o.disabled])"
    )


def test_prometheus_is_chosen_and_mimir_shown_as_production_only(page):
    page.goto(f"{ORIGIN}/d/airscope-service")
    assert choice(page) == [
        ["Prometheus", "prometheus", False],
        ["Mimir (production only)", "mimir", True],
    ]
    assert page.locator('[data-variable="datasource"] label').inner_text() == "Metrics from"
    assert page.locator('[data-variable="datasource"] select').input_value() == "prometheus"
    assert "Mimir keeps 365 days" in page.locator('[data-variable="datasource"] select').get_attribute(
        "title"
    )


def test_a_production_link_to_mimir_opens_and_says_why_its_panels_are_empty(page):
    page.goto(f"{ORIGIN}/d/airscope-service?var-datasource=mimir&var-service=api-gateway")
    choice(page)
    assert page.locator('[data-variable="datasource"] select').input_value() == "mimir"
    message = page.get_by_text("production only: needs Mimir").first
    message.wait_for()
    assert "choose Prometheus" in message.inner_text()
    assert "var-datasource=mimir" in page.url  # the choice stays in the URL, as Grafana keeps it
