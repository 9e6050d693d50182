"""A real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's sync API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dashboard.conftest import engine  # noqa: F401 - the fixture, shared with e2e

# pytest-django's live_server and Playwright's sync API share the main thread's event loop
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("e2e needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Open a fresh browser context (its own cookies) per call; all closed after the test."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def log_in(page, base_url: str, username: str, password: str = "pw") -> None:
    page.goto(f"{base_url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("header.topbar")
