"""The browser and page fixtures of every browser test: Debian's chromium driven by Playwright, one
browser per test module and a fresh page (context) per test. A page collects its JavaScript errors
in ``page.errors``; a screenshot of its last state goes to tests/artifacts/ (gitignored)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.lab_server import ARTIFACTS, CHROMIUM

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser, request: pytest.FixtureRequest) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-final.png"))
    context.close()
