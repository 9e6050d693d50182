"""`durable worker` runs an executor in the foreground; `durable demo` is the quick start."""

from __future__ import annotations

import argparse
import importlib
import signal
import threading

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from durable import executors, registry

DEMO_USER = "admin"
DEMO_PASSWORD = "admin"


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """Execute runs in this process until stopped (Ctrl-C or SIGTERM)."""
    parser.add_argument(
        "--threads", type=int, default=None, help="concurrent runs (default DURABLE_THREADS)"
    )


def handle_worker(command, *, threads=None, **_) -> None:
    stop = _stop_on_signals()
    executor = executors.start_thread_executor(threads)
    names = ", ".join(registry.registered_names()) or "none — set DURABLE_MODULES"
    command.stdout.write(f"worker {executor.executor_id} running; workflows: {names}")
    stop.wait()
    command.stdout.write("stopping: waiting for runs in flight to reach a step boundary…")
    executors.shutdown()


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Migrate, start an executor and a demo workload, and serve the dashboard."""
    parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
    parser.add_argument("--no-server", action="store_true", help="run the workload only")
    parser.add_argument("--seed", type=int, default=40, help="runs to start right away")


def handle_demo(command, *, addrport="127.0.0.1:8000", no_server=False, seed=40, **_) -> None:
    call_command("migrate", interactive=False, verbosity=0)
    _ensure_demo_admin()
    executors.start_thread_executor()
    workload = importlib.import_module(settings.DURABLE_DEMO_WORKLOAD)
    stop = threading.Event()
    workload.seed(
        seed,
        progress=lambda done, total: command.stdout.write(
            f"\rstarting demo runs {done}/{total}", ending=""
        ),
    )
    command.stdout.write("")
    threading.Thread(
        target=workload.run_forever, args=(stop,), daemon=True, name="durable-demo-workload"
    ).start()
    command.stdout.write(
        command.style.SUCCESS(
            f"Dashboard: http://{addrport}/   login: {DEMO_USER} / {DEMO_PASSWORD}"
        )
    )
    try:
        if no_server:
            _stop_on_signals().wait()
        else:
            call_command("runserver", addrport, use_reloader=False)
    finally:
        stop.set()
        executors.shutdown(wait=False)


def _ensure_demo_admin() -> None:
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=DEMO_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    user.is_staff = user.is_superuser = True
    user.set_password(DEMO_PASSWORD)
    user.save()
