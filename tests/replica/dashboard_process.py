"""A dashboard process whose primary and read replica are the replica tests' private pair.

Driven over pipes, one JSON command a line, one JSON answer a line: `{"seed": {...}}` writes
runs on the primary, `{"settings": {...}}` changes settings, `{"forget": true}` drops the
browser's cookies but its login, `{"cache_seconds": n}` keeps the replica's state that long
(and forgets it now); `{"get": path}` / `{"post": path, "data": {...}}` asks the
dashboard as a logged-in operator and answers with the status, the page and the statements
each database saw that touch Durable's or the dashboard's tables (Django's query capture,
per alias).
The environment names the databases: DATABASE_URL and DURABLE_READ_DATABASE_URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.conf import settings as django_settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.signals import setting_changed  # noqa: E402
from django.db import DatabaseError, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from durable.observability import _replica as replica_state  # noqa: E402
from tests.dashboard.conftest import make_failed_run, make_run  # noqa: E402

TABLES = ("durable_", "dashboard_")


def _operator() -> Client:
    user, _ = User.objects.get_or_create(username="operator")
    user.is_superuser = user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


@contextlib.contextmanager
def _capture(alias: str) -> Iterator[CaptureQueriesContext | None]:
    """The alias's statements; a replica that is down has none to capture."""
    capture = CaptureQueriesContext(connections[alias])
    try:
        capture.__enter__()  # connects
    except DatabaseError:
        yield None
        return
    try:
        yield capture
    finally:
        capture.__exit__(None, None, None)


def _ours(capture: Any) -> list[str]:
    if capture is None:
        return []
    return [q["sql"] for q in capture.captured_queries if any(t in q["sql"] for t in TABLES)]


def _seed(spec: dict[str, Any]) -> dict[str, Any]:
    for run_id in spec.get("failed", []):
        make_failed_run(id=run_id)
    for run_id in spec.get("enqueued", []):
        make_run(id=run_id, status="ENQUEUED", started_at=None, finished_at=None)
    for run_id in spec.get("succeeded", []):
        make_run(id=run_id)
    return {"ok": True}


def _configure(values: dict[str, Any]) -> dict[str, Any]:
    """Change settings as Django's test tools do: the signal empties Durable's settings
    cache, or a page read before the change would keep the old value."""
    for name, value in values.items():
        setattr(django_settings, name, value)
        setting_changed.send(sender=type(django_settings), setting=name, value=value, enter=True)
    return {"ok": True}


def _hold_state(seconds: float) -> dict[str, Any]:
    """How long a probed replica state is believed: long, to have a page find the replica
    gone only when it reads (not in the probe)."""
    replica_state.CACHE_SECONDS = seconds
    replica_state._cache.clear()
    return {"ok": True}


def _forget(client: Client) -> dict[str, Any]:
    """A new page visit: what the last action left in the browser (its WAL position) goes."""
    session = client.cookies.get(django_settings.SESSION_COOKIE_NAME)
    client.cookies.clear()
    if session is not None:
        client.cookies[django_settings.SESSION_COOKIE_NAME] = session.value
    return {"ok": True}


def _ask(client: Client, command: dict[str, Any]) -> dict[str, Any]:
    method = "post" if "post" in command else "get"
    with _capture("default") as primary, _capture("replica") as replica:
        response = getattr(client, method)(command[method], command.get("data") or {})
        body = b"".join(response) if response.streaming else response.content
    return {
        "status": response.status_code,
        "location": response.get("Location", ""),
        "body": body.decode(errors="replace"),
        "primary": _ours(primary),
        "replica": _ours(replica),
    }


def main() -> None:
    client = _operator()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        try:
            if "seed" in command:
                answer = _seed(command["seed"])
            elif "cache_seconds" in command:
                answer = _hold_state(command["cache_seconds"])
            elif "forget" in command:
                answer = _forget(client)
            elif "settings" in command:
                answer = _configure(command["settings"])
            else:
                answer = _ask(client, command)
        except Exception as exc:  # the test reads it instead of a dead pipe
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        for alias in ("default", "replica"):
            connections[alias].close()  # as after a request: the next one connects afresh
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
