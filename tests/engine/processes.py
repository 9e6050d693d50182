"""Worker subprocesses for crash tests: real processes on the test database."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parents[2]
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def database_url_for_tests() -> str:
    """A DATABASE_URL naming the database this test runs on (the test_… one)."""
    settings = connection.settings_dict
    host = quote(settings["HOST"] or "127.0.0.1", safe="")
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    return f"postgres://{settings['USER']}@{host}{port}/{settings['NAME']}"


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the test process dies, however it dies (a
    killed pytest leaves no worker behind). Linux's PR_SET_PDEATHSIG; elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start_worker(**env: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "DURABLE_MODULES": "tests.engine.workflows",
        "DURABLE_POLL_SECONDS": "0.2",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "durable", "worker", "--threads", "4"],
        cwd=PROJECT_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )


def steps_recorded(run_id: str) -> int:
    """Checkpoints written so far (a run's `steps_done` is only updated on status changes)."""
    from durable.models import Step

    return Step.objects.filter(run_id=run_id).count()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.kill()
    output, _ = process.communicate(timeout=10)
    return output.decode(errors="replace") if output else ""
