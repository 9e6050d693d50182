"""`durable worker` runs an executor in the foreground; `durable demo` is the quick start.

Production on Celery (DURABLE_EXECUTOR=celery, CELERY_BROKER_URL=redis://… or amqp://…,
DATABASE_URL=postgres://…, same code and settings in every process):

    web:      gunicorn config.wsgi            # durable.start() records runs, sends messages
    workers:  python manage.py durable worker --celery --threads 8    # as many as you like
              (= celery -A config worker --pool threads -c 8 -Q durable)
    sweeper:  python manage.py durable sweeper   # optional: every worker sweeps already

Workers acknowledge late, so a killed worker's messages are delivered again; its runs are
recovered from their checkpoints when their leases expire (at once on the same host). The
sweep (every worker's maintenance thread, or `durable sweeper` / the `durable.sweep` task
on celery beat with DURABLE_WORKER_SWEEPS=0) also re-dispatches runs whose message was
lost, wakes due sleeps and limited queues. `--pool threads` suits workflows that wait on
I/O; `--pool prefork` isolates CPU-bound steps (each child has its own executor identity).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import threading

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from durable import executors
from durable.core import _registry as registry
from durable.core.conf import settings

DEMO_USER = "admin"
DEMO_PASSWORD = "admin"


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """Execute runs in this process until stopped (Ctrl-C or SIGTERM)."""
    parser.add_argument(
        "--threads", type=int, default=None, help="concurrent runs (default DURABLE_THREADS)"
    )
    parser.add_argument(
        "--celery", action="store_true",
        help="run a Celery worker consuming DURABLE_CELERY_QUEUE instead of polling",
    )  # fmt: skip
    parser.add_argument(
        "--pool", choices=["threads", "prefork"], default="threads",
        help="Celery pool (with --celery): threads for I/O-bound workflows, prefork for CPU",
    )  # fmt: skip


def handle_worker(command, *, threads=None, celery=False, pool="threads", **_) -> None:
    if celery:
        _run_celery_worker(threads or settings.DURABLE_THREADS, pool)
        return
    stop = _stop_on_signals()
    executor = executors.start_thread_executor(threads)
    names = ", ".join(registry.registered_names()) or "none — set DURABLE_MODULES"
    command.stdout.write(f"worker {executor.executor_id} running; workflows: {names}")
    stop.wait()
    command.stdout.write("stopping: waiting for runs in flight to reach a step boundary…")
    executors.shutdown()


def _run_celery_worker(concurrency: int, pool: str) -> None:
    try:
        from celery import current_app
    except ModuleNotFoundError as missing:  # the optional [celery] extra
        raise CommandError(
            "`durable worker --celery` needs Celery: pip install 'django-durable-runs[celery]'"
        ) from missing

    current_app.worker_main([
        "worker", "--pool", pool, "--concurrency", str(concurrency),
        "--queues", settings.DURABLE_CELERY_QUEUE, "--without-gossip", "--without-mingle",
    ])  # fmt: skip


def add_sweeper_arguments(parser: argparse.ArgumentParser) -> None:
    """Recover runs of dead workers and dispatch runs without a message, until stopped."""
    parser.add_argument(
        "--every", type=float, default=None, help="seconds between sweeps (DURABLE_SWEEP_SECONDS)"
    )


def handle_sweeper(command, *, every=None, **_) -> None:
    from durable.executors import _sweeper as sweeper

    if settings.DURABLE_EXECUTOR != "celery":
        raise CommandError(
            f"the sweeper dispatches to Celery, but DURABLE_EXECUTOR is "
            f"{settings.DURABLE_EXECUTOR!r}; set DURABLE_EXECUTOR=celery (thread executors "
            "sweep by themselves)"
        )
    registry.autodiscover()  # the declared queues, whose waiting runs it wakes
    stop = _stop_on_signals()
    command.stdout.write(f"sweeper running every {every or settings.DURABLE_SWEEP_SECONDS}s")
    sweeper.run_forever(executors.get_executor(), stop, every)


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
    # SIGTERM ends the demo like Ctrl-C, at any point, so `finally` and exit handlers run
    # (the embedded database of this repository's project stops when its last user exits)
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: it may arrive ignored
        signal.signal(signum, _interrupt)
    stop = threading.Event()
    try:
        _run_demo(command, stop, addrport, no_server, seed)
    except KeyboardInterrupt:
        command.stdout.write("stopping the demo")
    finally:
        stop.set()
        # runs in flight reach a step boundary and are released before this returns, so
        # the embedded database (stopped at exit) never goes away under a step's checkpoint
        executors.shutdown(wait=True)
        command.stdout.write("demo stopped")


def _run_demo(command, stop: threading.Event, addrport: str, no_server: bool, seed: int) -> None:
    command.stdout.write("preparing the database (the embedded one starts first if none is set)")
    call_command("migrate", interactive=False, verbosity=0)
    login = _login_hint(_ensure_demo_admin())
    executors.start_thread_executor()
    workload = importlib.import_module(settings.DURABLE_DEMO_WORKLOAD)
    _seed(command, workload, seed)
    threading.Thread(
        target=workload.run_forever, args=(stop,), daemon=True, name="durable-demo-workload"
    ).start()
    command.stdout.write(command.style.SUCCESS(f"Dashboard: http://{addrport}/   {login}"))
    if no_server:
        threading.Event().wait()  # until a signal interrupts
    else:
        call_command("runserver", addrport, use_reloader=False)


def _seed(command, workload, seed: int) -> None:
    """The demo's first runs: a counter that rewrites itself on a terminal, and one line
    where the output is a log (a counter there is one line per run, joined by carriage
    returns)."""
    tty = command.stdout.isatty()
    shown = {"total": 0, "width": 0}

    def progress(done: int, total: int) -> None:
        shown["total"] = total
        if tty:
            line = f"starting demo runs {done}/{total}"
            shown["width"] = len(line)
            command.stdout.write("\r" + line, ending="")

    workload.seed(seed, progress=progress)
    done = f"started {shown['total']} demo runs"
    command.stdout.write("\r" + done.ljust(shown["width"]) if tty else done)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _ensure_demo_admin() -> bool:
    """Create admin/admin only on a database with no users at all; True if created.

    An existing account is never promoted or given a new password, so pointing the demo
    at a real database cannot open it to anyone who read the README; a restart keeps
    passwords (and sessions) as they are.
    """
    user_model = get_user_model()
    if user_model.objects.exists():
        return False
    user_model.objects.create_superuser(DEMO_USER, "", DEMO_PASSWORD)
    return True


def _login_hint(created: bool) -> str:
    user_model = get_user_model()
    demo = user_model.objects.filter(username=DEMO_USER).first()
    if created or (demo is not None and demo.check_password(DEMO_PASSWORD)):
        return f"login: {DEMO_USER} / {DEMO_PASSWORD}"
    return "log in with your account (or add one: manage.py createsuperuser)"
