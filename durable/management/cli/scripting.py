"""What makes `durable list` and `durable show` scriptable: validated filters, --json."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from durable.debugging.export import run_entry
from durable.models import Run, RunStatus
from durable.operations import _retention as retention


def whole_number(minimum: int):
    """An argparse type: a whole number of at least `minimum`, with a message, not a traceback."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    return parse


positive_int = whole_number(1)
non_negative_int = whole_number(0)


def status(text: str) -> str:
    """Any case: error, Error and ERROR are the same status."""
    value = text.upper()
    if value not in RunStatus.values:
        raise argparse.ArgumentTypeError(
            f"unknown status {text!r}; choose from {', '.join(RunStatus.values)} (any case)"
        )
    return value


def moment(text: str) -> datetime:
    """An ISO date/time ("2026-11-29", "2026-11-29T09:00") or an age ago ("2h", "30m", "7d")."""
    try:
        return timezone.now() - retention.parse_age(text)
    except ValueError:
        pass
    value = parse_datetime(text) or parse_datetime(f"{text}T00:00:00")
    if value is None:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r}; use an ISO time (2026-11-29T09:00) or an age (2h, 7d)"
        )
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def tag(text: str) -> tuple[str, Any]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"a tag filter is KEY=VALUE, not {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", type=tag, action="append", default=[], metavar="KEY=VALUE",
                        help="runs tagged so (repeatable)")  # fmt: skip
    parser.add_argument("--error-type", help="e.g. PaymentDeclined or its dotted path")
    parser.add_argument("--since", type=moment, help="created at/after: ISO time or age (2h)")
    parser.add_argument("--until", type=moment, help="created before: ISO time or age (2h)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def filter_runs(runs: QuerySet, options: dict[str, Any]) -> QuerySet:
    for key, value in options.get("tag") or []:
        runs = runs.filter(tags__contains={key: value})
    error_type = options.get("error_type")
    if error_type:
        runs = runs.filter(Q(error_type=error_type) | Q(error_type__endswith=f".{error_type}"))
    if options.get("since"):
        runs = runs.filter(created_at__gte=options["since"])
    if options.get("until"):
        runs = runs.filter(created_at__lt=options["until"])
    return runs


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def run_summary(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "workflow": run.workflow,
        "status": run.status,
        "steps_done": run.steps_done,
        "created_at": _time(run.created_at),
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "error_type": run.error_type,
        "tags": run.tags,
        "parent": run.parent_id,
        "forked_from": run.forked_from_id,
    }


def write_json(command, value: Any) -> None:
    command.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def run_document(run: Run) -> dict[str, Any]:
    """`show --json`: the run as `durable export` writes it (docs/export-format.md)."""
    return run_entry(run)


def show_details(command, run: Run) -> None:
    """The lines of `show` an on-call engineer needs beyond the table: when, tags, why."""
    lines = {
        "created": _time(run.created_at),
        "started": _time(run.started_at),
        "finished": _time(run.finished_at),
        "tags": json.dumps(run.tags, ensure_ascii=False) if run.tags else None,
        "cancelled": run.cancel_reason or None,
        "recovered": f"{run.recovery_count} time(s)" if run.recovery_count else None,
    }
    patched = list(run.steps.filter(patched=True).values_list("position", flat=True))
    if patched:
        steps = ", ".join(str(position) for position in patched)
        lines["patched"] = f"step(s) {steps}: output edited when forking (audit log has both)"
    for label, value in lines.items():
        if value:
            command.stdout.write(f"{label:<9} {value}")
