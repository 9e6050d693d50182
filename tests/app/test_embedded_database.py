"""This repository's embedded PostgreSQL: nothing starts on import, the demo stops what it
started on SIGTERM, and a restart keeps the users' passwords."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.processes import die_with_parent, wait_for

PROJECT_DIR = Path(__file__).resolve().parents[2]


def embedded_env(data: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DURABLE_TEST_DATABASE")
    }
    return {**env, "DURABLE_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}


def manage(data: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=embedded_env(data),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_dbshell_starts_the_server_and_needs_no_psql_on_the_path(tmp_path):
    env = {**embedded_env(tmp_path), "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run(
        [sys.executable, "manage.py", "dbshell", "--", "-c", "SELECT 41 + 1 AS answer"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "42" in done.stdout, done.stderr


def test_importing_the_settings_starts_no_server(tmp_path):
    code = "import django; django.setup(); from django.db import connection; print('ok')"
    env = {**embedded_env(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.stdout.strip() == "ok", done.stderr
    assert not (tmp_path / "pgdata").exists()
    assert "not running" in manage(tmp_path, "embedded_db", "status")


def start_demo(data: Path) -> tuple[subprocess.Popen, str]:
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "durable", "demo", "--no-server", "--seed", "2"],
        cwd=PROJECT_DIR, env=embedded_env(data), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, preexec_fn=die_with_parent,
    )  # fmt: skip
    deadline, seen = time.monotonic() + 120, ""
    while "Dashboard:" not in seen:
        line = demo.stdout.readline()
        assert line and time.monotonic() < deadline, f"demo did not start:\n{seen}"
        seen += line
    return demo, seen


def stop_demo(demo: subprocess.Popen) -> None:
    demo.send_signal(signal.SIGTERM)
    assert demo.wait(60) == 0


@pytest.mark.slow
def test_demo_stops_its_server_on_sigterm_and_keeps_passwords(tmp_path):
    demo, output = start_demo(tmp_path)
    assert "login: admin / admin" in output
    # to a log (not a terminal) the seeding's progress is one line, not one per run
    assert output.count("demo runs") == 1 and "started 2 demo runs" in output, output
    assert "running: pid" in manage(tmp_path, "embedded_db", "status")
    stop_demo(demo)
    assert "not running" in manage(tmp_path, "embedded_db", "status")

    change = "from django.contrib.auth.models import User; u = User.objects.get(username='admin')"
    manage(tmp_path, "shell", "-c", f"{change}; u.set_password('s3cret-ops'); u.save()")
    demo, output = start_demo(tmp_path)
    stop_demo(demo)
    kept = manage(tmp_path, "shell", "-c", f"{change}; print(u.check_password('s3cret-ops'))")
    assert kept.strip().endswith("True")
    assert "not running" in manage(tmp_path, "embedded_db", "status")


@pytest.mark.slow
def test_a_killed_demo_does_not_leave_its_server_running(tmp_path):
    demo, _ = start_demo(tmp_path)
    demo.kill()  # SIGKILL: no exit handler runs; the watchdog notices
    demo.communicate(timeout=10)
    wait_for(lambda: not status_running(tmp_path), 20, "the watchdog to stop the server")


def status_running(data: Path) -> bool:
    return "running: pid" in manage(data, "embedded_db", "status")


@pytest.mark.slow
def test_reset_stops_the_server_before_deleting_its_data(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.db import connection; connection.ensure_connection(); print('up');"
         " import time; time.sleep(60)"],
        cwd=PROJECT_DIR, env=embedded_env(tmp_path), stdout=subprocess.PIPE, text=True,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    try:
        lines = iter(holder.stdout.readline, "")
        assert any(line.strip() == "up" for line in lines), "the shell never connected"
        assert "running: pid" in manage(tmp_path, "embedded_db", "status")
        manage(tmp_path, "embedded_db", "reset")
        assert not (tmp_path / "pgdata").exists()
        assert "not running" in manage(tmp_path, "embedded_db", "status")
    finally:
        holder.kill()
        holder.communicate(timeout=10)


ALARMING = ("database connection lost", "Traceback", "WARNING", "ERROR durable")


@pytest.mark.slow
def test_a_clean_start_and_ctrl_c_print_no_alarming_lines(tmp_path):
    """The executor stops (its steps in flight recorded or released) before the embedded
    database does, so the last lines a user sees after Ctrl-C say nothing went wrong."""
    demo, started = start_demo(tmp_path)
    time.sleep(8)  # runs in flight, training's slow steps among them
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=90)
    assert demo.returncode == 0, rest
    rest = started + rest  # a clean start says nothing alarming either (no durable.W015)
    assert "System check identified" not in rest, rest
    assert not [line for line in rest.splitlines() if any(a in line for a in ALARMING)], rest
    assert "stopping the demo" in rest and "demo stopped" in rest
