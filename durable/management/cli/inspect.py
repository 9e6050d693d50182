"""`durable list` and `durable show`: runs and their steps as tables in the terminal."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from django.utils import timezone

from durable import operations
from durable.core import _delays as delays
from durable.core._validation import validate_run_id
from durable.core.store import _durations as durations
from durable.errors import RunNotFoundError
from durable.management.cli import scripting
from durable.models import Attempt, Run, RunStatus


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    """List recent runs, newest first."""
    parser.add_argument("--status", type=scripting.status, help="any case, e.g. error")
    parser.add_argument("--workflow")
    parser.add_argument("--limit", type=scripting.positive_int, default=20)
    parser.add_argument("--held", action="store_true", help="only runs an operator holds")
    scripting.add_filter_arguments(parser)


def handle_list(command, *, status=None, workflow=None, limit=20, held=False, **options) -> None:
    runs = Run.objects.order_by("-created_at", "-id")
    if status:
        runs = runs.filter(status=status)
    if held:
        runs = runs.filter(held_at__isnull=False)
    if workflow:
        runs = runs.filter(workflow=workflow)
    runs = scripting.filter_runs(runs, options)
    if options.get("json"):
        return scripting.write_json(command, [scripting.run_summary(run) for run in runs[:limit]])
    rows = [
        (
            run.id,
            run.workflow,
            f"{run.status} (held)" if run.held_at else run.status,
            str(run.steps_done),
            run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            *_times(run),
            run.error_type,
        )
        for run in runs[:limit]
    ]
    header = ("RUN", "WORKFLOW", "STATUS", "STEPS", "CREATED", "ACTIVE", "PARKED", "ERROR")
    _print_table(command, header, rows)


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    """Show one run and its steps as a table."""
    parser.add_argument("run_id")
    parser.add_argument("--json", action="store_true", help="print JSON (the export format)")


def handle_show(command, *, run_id: str, **options) -> None:
    try:
        run = Run.objects.get(id=validate_run_id(run_id))
    except Run.DoesNotExist:
        raise RunNotFoundError(f"no run with id {run_id!r}; `durable list` shows runs") from None
    if options.get("json"):
        return scripting.write_json(command, scripting.run_document(run))
    command.stdout.write(f"run       {run.id}\nworkflow  {run.workflow} (version {run.version})")
    command.stdout.write(f"status    {run.status}\ninput     {json.dumps(run.input)}")
    if (
        run.status == RunStatus.ENQUEUED
        and run.started_at is None
        and delays.is_future(run.available_at)
    ):
        command.stdout.write(f"starts    {run.available_at:%Y-%m-%d %H:%M:%S} UTC (delayed start)")
    scripting.show_details(command, run)
    if run.forked_from_id:
        command.stdout.write(f"origin    {run.forked_from_id} from step {run.forked_from_step}")
    if run.status == RunStatus.SUCCESS:
        command.stdout.write(f"output    {_short(run.output)}")
    if run.error:
        command.stdout.write(f"error     {run.error.get('type')}: {run.error.get('message')}")
    active, parked = _times(run)
    command.stdout.write(f"active    {active or '–'}\nparked    {parked or '–'}")
    _show_deaths(command, run)
    rows = [
        (
            str(step.position),
            step.name,
            step.kind,
            step.status,
            str(step.attempts),
            _human(step.duration_ms),
            _short(step.output if step.status == "SUCCESS" else (step.error or {}).get("message")),
        )
        for step in run.steps.order_by("position")
    ]
    command.stdout.write("")
    header = ("#", "STEP", "KIND", "STATUS", "ATTEMPTS", "DURATION", "OUTPUT / ERROR")
    _print_table(command, header, rows)


def _show_deaths(command, run: Run) -> None:
    """Why it was recovered or went DEAD: each death of an owner, with what it means."""
    if not run.recovery_count and run.status != RunStatus.DEAD:
        return
    for death in operations.run_deaths(run.id):
        command.stdout.write(
            f"died      {death.recovered_at:%Y-%m-%d %H:%M:%S} {death.executor_id} "
            f"(host {death.hostname or '?'}, pid {death.pid or '?'}): {death.hint}"
        )


def _times(run: Run) -> tuple[str, str]:
    """Active time (in steps and retries) and parked time (failed before a resume,
    sleeping, waiting) since the run first started; see `durable.core.store._durations`."""
    if run.started_at is None:
        return "", ""
    steps = list(run.steps.all()) if run.active_ms is None or not run.finished_at else []
    attempts = list(Attempt.objects.filter(run=run)) if steps else []
    split = durations.split(run, steps, attempts, timezone.now())
    return _human(split["active"]), _human(split["parked"])


def _human(ms: float) -> str:
    """1.2 s, 3.5 min, 1.1 h: rounded the way a person reads a duration."""
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.1f}min"
    return f"{ms / 3_600_000:.1f}h"


def _short(value, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_table(command, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    if not rows:
        command.stdout.write("(no rows)")
        return
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        command.stdout.write(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        )
