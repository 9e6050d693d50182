"""Browser journeys: a real headless Chromium (tests/browser.py) on a live server."""

from __future__ import annotations

import os

import pytest

from tests import browser as chromium
from tests.dashboard.conftest import engine  # noqa: F401 - the fixture, shared with e2e

# pytest-django's live_server and Playwright's sync API share the main thread's event loop
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the journeys, stopped after the last of them (see tests/browser.py)."""
    with chromium.chromium() as launched:
        yield launched


@pytest.fixture
def new_page(browser):
    with chromium.page_opener(browser) as open_page:
        yield open_page


def log_in(page, base_url: str, username: str, password: str = "pw") -> None:
    page.goto(f"{base_url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("header.topbar")
