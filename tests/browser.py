"""A real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's sync API.

Playwright's sync API marks an event loop running on the thread that started it until it
stops, and a running loop changes what that thread may do (asgiref refuses `async_to_sync`
there; `durable.run()` hands async work to the pool). So a browser lives only as long as
the tests that need it: the e2e package, the packaging module — never the whole session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched browser, closed and Playwright stopped on leaving."""
    if not CHROMIUM.exists():
        pytest.skip("e2e needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def page_opener(browser: Any) -> Iterator[Callable[[], Any]]:
    """Opens a fresh browser context (its own cookies) per call; all closed on leaving."""
    contexts = []

    def open_page() -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()
