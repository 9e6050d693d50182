"""One dashboard reader fetching a page back to back, for bench/replica_load.py.

    DATABASE_URL=… [DURABLE_READ_DATABASE_URL=…] python -m bench.page_loop URL

A process of its own, as a dashboard's web server would be: its Python does not share the
measuring process's interpreter lock. Logged in as a superuser through Django's test client,
it fetches URL twice and prints `{"ready": true, "statements": {alias: n}}` (the statements on
Durable's and the dashboard's tables the second fetch sent to each database: where the page
reads once warm),
then fetches it in a loop until a line arrives on stdin (or stdin closes) and prints
`{"fetches": n, "median_ms": …, "seconds": …}`.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.test import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "0")

TABLES = ("durable_", "dashboard_")


def _client() -> Client:
    from django.contrib.auth.models import User
    from django.test import Client

    user, _ = User.objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    return client


def _statements(client: Client, url: str) -> dict[str, int]:
    """One fetch of `url`, with each database's statements on our tables counted."""
    from contextlib import ExitStack

    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    with ExitStack() as stack:
        captures = {
            alias: stack.enter_context(CaptureQueriesContext(connections[alias]))
            for alias in connections
        }
        _fetch(client, url)
    return {
        alias: sum(1 for q in capture.captured_queries if any(t in q["sql"] for t in TABLES))
        for alias, capture in captures.items()
    }


def _fetch(client: Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return elapsed


def main() -> None:
    import django

    django.setup()
    url = sys.argv[1]
    client = _client()
    _fetch(client, url)  # warm-up: the first fetch of a window may also roll up histograms
    statements = _statements(client, url)
    print(json.dumps({"ready": True, "statements": statements}), flush=True)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    times: list[float] = []
    started = time.monotonic()
    while not stop.is_set():
        times.append(_fetch(client, url))
    result = {
        "fetches": len(times),
        "median_ms": round(statistics.median(times) * 1000, 1) if times else None,
        "seconds": round(time.monotonic() - started, 2),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
