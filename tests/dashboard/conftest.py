"""Users with each level of access, and runs inserted straight into the tables."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from durable import executors
from durable.core import _serving as serving
from durable.models import Attempt, Executor, Run, RunStatus, Step

HOSTILE = '<script>alert("pwned")</script>'
_ids = itertools.count()


@pytest.fixture
def engine(transactional_db):
    """Committed writes the in-process executor sees. The executor stops before the
    tables are flushed (this fixture's teardown runs first), so no run is mid-step then."""
    yield
    executors.shutdown()


def _user(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def owner(db) -> User:
    """An operator: may view and act."""
    return _user("owner", "view_runs", "operate_runs")


@pytest.fixture
def viewer(db) -> User:
    return _user("viewer", "view_runs")


@pytest.fixture
def stranger(db) -> User:
    """Logged in, but with neither dashboard permission."""
    return _user("stranger")


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner) -> Client:
    return _client(owner)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return _client(viewer)


@pytest.fixture
def stranger_client(stranger) -> Client:
    return _client(stranger)


def make_run(**fields: Any) -> Run:
    """A run row as the engine would leave it; defaults to a finished success."""
    now = timezone.now()
    defaults: dict[str, Any] = {
        "id": f"run-{next(_ids)}",
        "workflow": "shop.order",
        "status": "SUCCESS",
        "input": {"args": [1], "kwargs": {}},
        "created_at": now - timedelta(seconds=5),
        "started_at": now - timedelta(seconds=4),
        "finished_at": now - timedelta(seconds=1),
    }
    defaults.update(fields)
    return Run.objects.create(**defaults)


def make_dead_owners_run(run_id: str) -> Run:
    """A RUNNING run whose executor died as a SIGKILL leaves it: its row heard from a few
    seconds ago and its lifeline lock gone, so the recovery verdict's rule says dead (a
    test using it also asks for `short_lease`, past the rule's grace after a server start)."""
    owner = f"thread:gone:1:{run_id}"
    Executor.objects.create(id=owner, kind="thread", hostname="h", pid=1, workflows=[])
    silent = timedelta(seconds=serving.silence_seconds() + 1)
    Executor.objects.filter(id=owner).update(last_seen_at=timezone.now() - silent)
    lease = timezone.now() + timedelta(seconds=20)
    return make_run(id=run_id, status="RUNNING", finished_at=None, executor_id=owner,
                    lease_expires_at=lease, workflow="not.registered")  # fmt: skip


def make_step(run: Run, position: int, **fields: Any) -> Step:
    now = timezone.now()
    defaults: dict[str, Any] = {
        "name": f"shop.step_{position}",
        "status": "SUCCESS",
        "input": {"args": [position], "kwargs": {}},
        "output": {"ok": position},
        "started_at": now - timedelta(seconds=3),
        "finished_at": now - timedelta(seconds=2),
        "duration_ms": 1000.0,
    }
    defaults.update(fields)
    return Step.objects.create(run=run, position=position, **defaults)


def make_failed_run(message: str = "card declined for order 42", **fields: Any) -> Run:
    """A run whose step 1 failed after one retry, as recorded by the engine."""
    error = {"type": "shop.CardDeclined", "message": message, "traceback": "Traceback: boom"}
    run = make_run(
        status="ERROR",
        error=error,
        error_type="shop.CardDeclined",
        error_fingerprint="fp-card",
        steps_done=2,
        **fields,
    )
    make_step(run, 0)
    step = make_step(
        run,
        1,
        status="ERROR",
        output=None,
        error=error,
        attempts=2,
        error_type="shop.CardDeclined",
        error_fingerprint="fp-card",
    )
    for attempt in (1, 2):
        Attempt.objects.create(
            run=run,
            position=1,
            attempt=attempt,
            name=step.name,
            error=error,
            error_type="shop.CardDeclined",
            error_fingerprint="fp-card",
            final=attempt == 2,
            started_at=step.started_at,
            finished_at=step.finished_at,
        )
    return run


def wait_until_finished(run_id: str, timeout: float = 15) -> str:
    """The run's status once it is terminal (the in-process executor runs it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = Run.objects.get(id=run_id).status
        if status in RunStatus.terminal():
            return status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {status} after {timeout}s")
