"""`durable list` and `durable show`: runs and their steps as tables in the terminal."""

from __future__ import annotations

import argparse
import json

from durable.api import validate_run_id
from durable.cli import scripting
from durable.errors import RunNotFoundError
from durable.models import Attempt, Run, RunStatus


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    """List recent runs, newest first."""
    parser.add_argument("--status", type=scripting.status, help="any case, e.g. error")
    parser.add_argument("--workflow")
    parser.add_argument("--limit", type=scripting.positive_int, default=20)
    scripting.add_filter_arguments(parser)


def handle_list(command, *, status=None, workflow=None, limit=20, **options) -> None:
    runs = Run.objects.order_by("-created_at", "-id")
    if status:
        runs = runs.filter(status=status)
    if workflow:
        runs = runs.filter(workflow=workflow)
    runs = scripting.filter_runs(runs, options)
    if options.get("json"):
        return scripting.write_json(command, [scripting.run_summary(run) for run in runs[:limit]])
    rows = [
        (
            run.id,
            run.workflow,
            run.status,
            str(run.steps_done),
            run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            _duration(run),
            run.error_type,
        )
        for run in runs[:limit]
    ]
    _print_table(
        command, ("RUN", "WORKFLOW", "STATUS", "STEPS", "CREATED", "DURATION", "ERROR"), rows
    )


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
    scripting.show_details(command, run)
    if run.forked_from_id:
        command.stdout.write(f"origin    {run.forked_from_id} from step {run.forked_from_step}")
    if run.status == RunStatus.SUCCESS:
        command.stdout.write(f"output    {_short(run.output)}")
    if run.error:
        command.stdout.write(f"error     {run.error.get('type')}: {run.error.get('message')}")
    retries = {}
    for attempt in Attempt.objects.filter(run=run):
        retries[attempt.position] = retries.get(attempt.position, 0) + 1
    rows = [
        (
            str(step.position),
            step.name,
            step.kind,
            step.status,
            str(step.attempts),
            f"{step.duration_ms:.1f}",
            _short(step.output if step.status == "SUCCESS" else (step.error or {}).get("message")),
        )
        for step in run.steps.order_by("position")
    ]
    command.stdout.write("")
    _print_table(command, ("#", "STEP", "KIND", "STATUS", "ATTEMPTS", "MS", "OUTPUT / ERROR"), rows)


def _duration(run: Run) -> str:
    if run.started_at and run.finished_at:
        return f"{(run.finished_at - run.started_at).total_seconds():.2f}s"
    return ""


def _short(value, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_table(command, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    if not rows:
        command.stdout.write("(no rows)")
        return
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        command.stdout.write(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        )
