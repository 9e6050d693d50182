"""`python manage.py durable <subcommand>`: inspect runs, operate on them, run workers."""

from __future__ import annotations

import argparse
import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from durable import executors
from durable.errors import DurableError
from durable.management.cli import (
    database_errors,
    debug,
    draining,
    extensions,
    inspect,
    jobs,
    operate,
    remote,
    schedules,
    worker,
)
from durable.management.cli import queues as queues_cli

SUBCOMMANDS = {
    "list": inspect.add_list_arguments,
    "show": inspect.add_show_arguments,
    "cancel": operate.add_cancel_arguments,
    "resume": operate.add_resume_arguments,
    "hold": operate.add_hold_arguments,
    "release": operate.add_release_arguments,
    "restart": operate.add_restart_arguments,
    "fork": operate.add_fork_arguments,
    "delete": operate.add_delete_arguments,
    "prune": operate.add_prune_arguments,
    "queues": queues_cli.add_queues_arguments,
    "bulk": jobs.add_bulk_arguments,
    "jobs": jobs.add_jobs_arguments,
    "job": jobs.add_job_arguments,
    "drain": draining.add_drain_arguments,
    "undrain": draining.add_undrain_arguments,
    "worker": worker.add_worker_arguments,
    "sweeper": worker.add_sweeper_arguments,
    "demo": worker.add_demo_arguments,
    "export": debug.add_export_arguments,
    "import": debug.add_import_arguments,
    "replay": debug.add_replay_arguments,
    "preview": debug.add_preview_arguments,
    "compare": debug.add_compare_arguments,
    "stack": debug.add_stack_arguments,
    "logs": debug.add_logs_arguments,
    "schedules": schedules.add_schedules_arguments,
}
DEBUG_SUBCOMMANDS = ("export", "import", "replay", "preview", "compare", "stack", "logs")


class Command(BaseCommand):
    help = (
        "Durable workflows: list, show, cancel, resume, hold, release, restart, fork, delete, "
        "prune, worker, sweeper, demo; bulk jobs: bulk, jobs, job; queues, drain, undrain; "
        "cron: schedules; debugging: export, import, replay, preview, compare, stack, logs; "
        "with the dashboard: token. list, show, resume, restart and cancel take --server URL "
        "--token T to act on a remote deployment through its API."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        subparsers = parser.add_subparsers(dest="subcommand", required=True)
        for name, add_arguments in SUBCOMMANDS.items():
            subparser = subparsers.add_parser(name, help=add_arguments.__doc__)
            add_arguments(subparser)
            if name in remote.COMMANDS:
                remote.add_remote_arguments(subparser)
        for name, (add_extension, _) in extensions.SUBCOMMANDS.items():
            add_extension(subparsers.add_parser(name, help=add_extension.__doc__))

    def handle(self, *args, subcommand: str, **options) -> None:
        try:
            if subcommand in extensions.SUBCOMMANDS:
                return extensions.SUBCOMMANDS[subcommand][1](self, **options)
            served = remote.target(options) if subcommand in remote.COMMANDS else None
            if served is not None:
                return remote.handle(self, subcommand, *served, options)
        except DurableError as exc:
            raise CommandError(str(exc)) from exc
        self._handle_here(subcommand, options)

    def _handle_here(self, subcommand: str, options: dict) -> None:
        module = {
            "list": inspect,
            "show": inspect,
            "worker": worker,
            "sweeper": worker,
            "demo": worker,
            "schedules": schedules,
            "queues": queues_cli,
            "bulk": jobs,
            "jobs": jobs,
            "job": jobs,
            "drain": draining,
            "undrain": draining,
        }.get(subcommand, debug if subcommand in DEBUG_SUBCOMMANDS else operate)
        if subcommand not in ("worker", "demo", "sweeper"):
            executors.leave_runs_to_workers()
        handler = getattr(module, f"handle_{subcommand}")
        try:
            handler(self, **options)
            self.stdout.flush()
        except DurableError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            hint = database_errors.explain(exc)
            if hint is None:
                raise
            raise CommandError(hint) from exc
        except BrokenPipeError:
            _stop_writing_to_a_closed_pipe()


def _stop_writing_to_a_closed_pipe() -> None:
    """`durable show … | head`: the reader left; end quietly, as Unix tools do (Python would
    otherwise report the pipe again when it flushes stdout at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(1)
