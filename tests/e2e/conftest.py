"""Browser journeys: a real headless Chromium (tests/conftest.py's `browser`) on a live server."""

from __future__ import annotations

import os

from tests.dashboard.conftest import engine  # noqa: F401 - the fixture, shared with e2e

# pytest-django's live_server and Playwright's sync API share the main thread's event loop
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# `browser` and `new_page` live in tests/conftest.py: one Chromium per session, shared with
# the packaging test that logs in to a fresh project


def log_in(page, base_url: str, username: str, password: str = "pw") -> None:
    page.goto(f"{base_url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("header.topbar")
