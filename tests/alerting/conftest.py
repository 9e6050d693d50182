"""A real HTTP receiver on 127.0.0.1 (recording every request) and failure groups written
straight into the tables, as the engine leaves them."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from durable.models import AlertRule, Attempt, Run
from durable.observability import alerting

_ids = itertools.count()


class Receiver:
    """Requests received, in order; answers with `statuses` in turn (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "body": json.loads(body)})
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a short poll: shutdown() waits for the loop's next look (0.5 s a test by default)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, path: str = "/hook") -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.requests if r["path"] == path]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def fail_run(
    workflow: str = "shop.order",
    fingerprint: str = "fp-card",
    message: str = "card declined for order 42",
    **fields: Any,
) -> Run:
    """A run whose step 1 failed for good (its final attempt recorded)."""
    now = timezone.now()
    error = {"type": "shop.CardDeclined", "message": message, "traceback": "Traceback: boom"}
    run = Run.objects.create(
        id=f"alert-run-{next(_ids)}",
        workflow=workflow,
        status="ERROR",
        input={"args": [], "kwargs": {}},
        error=error,
        error_type="shop.CardDeclined",
        error_fingerprint=fingerprint,
        created_at=now,
        finished_at=now,
        **fields,
    )
    Attempt.objects.create(
        run=run,
        position=1,
        attempt=1,
        name="shop.charge",
        error=error,
        error_type="shop.CardDeclined",
        error_fingerprint=fingerprint,
        final=True,
        started_at=now,
        finished_at=now,
    )
    return run


def rule(**fields: Any) -> AlertRule:
    values = {"name": f"rule-{next(_ids)}", "kind": "new_failure_group", **fields}
    return alerting.save_rule(None, values, actor="tester")


def evaluate_now() -> int:
    """One pass of the executors' alert duty, with every rule due."""
    AlertRule.objects.update(next_evaluation_at=timezone.now() - timedelta(days=1))
    return alerting.run_duty()
