"""/profiles in a real headless Chromium: the console itself (its app, through a TestClient, with a
temporary home) answers every request the page makes, the vendored speedscope's included. The list
shows each profile and its top; a CPU profile is drawn by speedscope (its WebGL canvas painted, the
file fetched from /api/profiles/<name>); a memory profile is a table; a bad name says so. No page logs
an error or raises a dialog."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from airscope import checkout
from airscope.console.app import create_app
from airscope.console.settings import ConsoleConfig
from tests.conftest import CHROMIUM
from tests.console.profile_files import RECORDED, RECORDED_CPU, RECORDED_MEMORY, write_cpu, write_memory

if TYPE_CHECKING:
    from playwright.sync_api import Page

ORIGIN = "http://console.test"
CPU = "20261207T181500Z-mcp-server-cpu.speedscope.json"
MEMORY = "20261207T181200Z-mcp-server-memory.json"
SCREENSHOT = checkout.root() / "docs" / "images" / "console-profiles.png"
# Set to 1 to write SCREENSHOT from the recorded CPU profile's page (docs/guide.md shows it).
WRITE_SCREENSHOT = os.environ.get("AIRSCOPE_TEST_WRITE_SCREENSHOT") == "1"
# speedscope draws its flame graph's boxes with WebGL and their names on a 2D canvas over them: drawn
# when some 2D canvas of its frame holds text (ink, not a clear canvas).
LABELLED = """() => [...document.querySelectorAll('canvas')].some((canvas) => {
    const context = canvas.width > 100 && canvas.height > 100 && canvas.getContext('2d');
    if (!context) return false;  // the WebGL canvas has no 2D context
    const alpha = context.getImageData(0, 0, canvas.width, canvas.height).data.filter((_, i) => i % 4 === 3);
    return alpha.filter((a) => a > 0).length > 200;
})"""
# The share of a PNG's (a screenshot's) pixels in pastel colours, counted in the page: speedscope's
# boxes are pastel (light and tinted), its background, grid, text and toolbar are not.
PASTEL = """async (png) => {
    const image = await createImageBitmap(await (await fetch(`data:image/png;base64,${png}`)).blob());
    const canvas = new OffscreenCanvas(image.width, image.height);
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const data = context.getImageData(0, 0, image.width, image.height).data;
    let pastel = 0;
    for (let i = 0; i < data.length; i += 4) {
        const [lo, hi] = [Math.min(data[i], data[i + 1], data[i + 2]), Math.max(data[i], data[i + 1], data[i + 2])];
        if (lo > 150 && hi - lo > 24) pastel += 1;
    }
    return pastel / (data.length / 4);
}"""


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
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    write_cpu(home / "profiles", CPU)
    write_memory(home / "profiles", MEMORY)
    for path in RECORDED:  # py-spy's and the kit's own files
        shutil.copy(path, home / "profiles" / path.name)
    return home


@pytest.fixture
def requested() -> list[str]:
    return []


@pytest.fixture
def errors() -> list[str]:
    """What the page logged as an error, raised or alerted; the test fails unless it is empty at the end."""
    return []


@pytest.fixture
def page(browser, home: Path, tmp_path: Path, requested: list[str], errors: list[str]) -> Iterator[Page]:
    config = ConsoleConfig(
        home=home,
        prometheus_url="http://127.0.0.1:9",
        alertmanager_url="http://127.0.0.1:9",
        notifications_file=tmp_path / "notifications.jsonl",
        log_dir=tmp_path / "logs",
        trace_dir=tmp_path / "traces",
        dashboards_dir=tmp_path / "dashboards",
        runbooks_dir=tmp_path / "runbooks",
    )
    client = TestClient(create_app(config))

    def serve(route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        requested.append(path)
        answer = client.request(route.request.method, path)
        route.fulfill(status=answer.status_code, body=answer.content, headers=dict(answer.headers))

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    def on_dialog(dialog) -> None:  # speedscope alerts when it cannot load a profile
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    # Anything not the console's (a CDN, a font service) is refused, and fails the test as an error.
    page.route("**/*", lambda route: route.abort())
    page.route(f"{ORIGIN}/**", serve)
    yield page
    page.close()
    assert errors == []


def test_the_list_shows_each_profile_with_its_top(page):
    page.goto(f"{ORIGIN}/profiles")
    page.locator('.profiles-table[data-state="data"]').wait_for()
    rows = page.locator("tr[data-profile]")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.profile)") == [
        RECORDED_MEMORY.name,
        RECORDED_CPU.name,
        CPU,
        MEMORY,
    ]
    cpu = rows.nth(2).inner_text()
    assert "mcp-server" in cpu and "CPU" in cpu
    assert "burn_cpu (airscope/telemetry/_drills.py:41) 70% own" in cpu
    assert "airscope/telemetry/_drills.py:88 +50 MiB" in rows.nth(3).inner_text()
    recorded = rows.nth(1).inner_text()
    assert "frontend" in recorded and "burn_cpu (airscope/telemetry/_drills.py:60) 92% own" in recorded
    assert "airscope/telemetry/_drills.py:50 +64.0 MiB" in rows.nth(0).inner_text()
    assert page.locator('nav a[href="/profiles"]').get_attribute("aria-current") == "page"


def test_an_empty_directory_says_how_to_take_one(page, home):
    for path in (home / "profiles").iterdir():
        path.unlink()
    page.goto(f"{ORIGIN}/profiles")
    assert "airscope profile" in page.locator('.profiles-empty[data-state="empty"]').inner_text()


def test_a_cpu_profile_is_drawn_by_speedscope(page, requested):
    """py-spy's own file of a service burning 20 ms a request (profile_files.RECORDED_CPU)."""
    name = RECORDED_CPU.name
    page.goto(f"{ORIGIN}/profiles")
    page.locator(f'tr[data-profile="{name}"] a').click()  # the shell's own navigation, no reload
    page.wait_for_url(f"{ORIGIN}/profiles/{name}")
    page.locator(".profile-top li").first.wait_for()
    top = page.locator(".profile-top li").evaluate_all("items => items.map(i => i.dataset.function)")
    assert top[0] == "burn_cpu"
    frame = page.locator("iframe.profile-frame")
    assert frame.get_attribute("src").startswith("/static/speedscope/index.html#profileURL=")
    speedscope = frame.element_handle().content_frame()
    speedscope.wait_for_function(LABELLED, timeout=20_000)
    assert f"/api/profiles/{name}" in requested  # speedscope fetched the file itself, from the console
    assert "/static/speedscope/speedscope-Y2522XSH.js" in requested
    assert "frontend" in speedscope.locator("body").inner_text()  # its title, from the hash
    # The boxes under the names are on screen: the request's stack (uvicorn, starlette, the kit's
    # middleware, burn_cpu) as wide as the frame, in the minimap and the flame graph, is more than a
    # tenth of it; nothing drawn is none.
    shot = base64.b64encode(frame.screenshot()).decode()
    assert page.evaluate(PASTEL, shot) > 0.1
    if WRITE_SCREENSHOT:
        # Tall enough for the request's whole stack, down to burn_cpu, in the flame graph.
        page.set_viewport_size({"width": 1280, "height": 1280})
        speedscope.wait_for_function(LABELLED)
        page.wait_for_timeout(500)  # speedscope redraws on the next animation frames after a resize
        page.screenshot(path=str(SCREENSHOT))


def test_a_cpu_profile_without_samples_says_why(page, home):
    name = "20261207T181800Z-mcp-server@2-cpu.speedscope.json"
    write_cpu(home / "profiles", name, burning=0, idle=0)
    page.goto(f"{ORIGIN}/profiles/{name}")
    empty = page.locator('.profiles-empty[data-state="empty"]')
    assert "airscope profile mcp-server --instance 2 --idle" in empty.inner_text()
    assert page.locator("iframe").count() == 0


def test_a_memory_profile_is_a_table(page):
    page.goto(f"{ORIGIN}/profiles/{MEMORY}")
    table = page.locator('.memory-table[data-state="data"]')
    table.wait_for()
    rows = table.locator("tbody tr").evaluate_all("rows => rows.map(r => [r.dataset.file, r.dataset.line])")
    assert rows[0] == ["airscope/telemetry/_drills.py", "88"]
    assert len(rows) == 3
    assert "50 MiB" in table.locator("tbody tr").first.inner_text()
    assert "peak" in page.locator(".profile-facts").inner_text()


@pytest.mark.parametrize(
    "name", ["notes.txt", "..secret.json", "20261207T000000Z-mcp-server-cpu.speedscope.json"]
)
def test_a_bad_name_is_not_found_with_why(page, errors, name):
    page.goto(f"{ORIGIN}/profiles/{name}")
    error = page.locator('.page-error[data-state="error"]')
    error.wait_for()
    assert "Profile not found" in error.inner_text()
    assert "profiles are named" in error.inner_text()
    # The browser logs the API's 404 itself; nothing else may be logged.
    errors[:] = [e for e in errors if "status of 404" not in e]
