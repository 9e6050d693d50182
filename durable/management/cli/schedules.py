"""`durable schedules list|create|update|pause|resume|delete|trigger|backfill`: cron
schedules from the terminal, each a thin call of `durable.schedules` (audited as --actor)."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, datetime
from typing import Any

from durable import schedules
from durable.management.cli.inspect import _print_table
from durable.management.cli.operate import _parse
from durable.management.cli.scripting import write_json

ACTIONS = ("list", "create", "update", "pause", "resume", "delete", "trigger", "backfill")


def add_schedules_arguments(parser: argparse.ArgumentParser) -> None:
    """Cron schedules: list, create, update, pause, resume, delete, trigger, backfill."""
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every schedule, code and API")
    listing.add_argument("--json", action="store_true", help="print JSON")
    create = _named(actions, "create", "a schedule stored in PostgreSQL")
    create.add_argument("--workflow", required=True, help="registered name, e.g. reports.nightly")
    create.add_argument("--cron", required=True, help="UTC, e.g. '*/5 * * * *'")
    create.add_argument("--paused", action="store_true", help="create it paused")
    _add_definition(create, missed_default="latest")
    update = _named(actions, "update", "change an API schedule (from its next tick)")
    update.add_argument("--workflow")
    update.add_argument("--cron")
    _add_definition(update, missed_default=None)
    for action, text in (("pause", "start no runs until resumed"),
                         ("resume", "start runs again from the next tick (no backfill)"),
                         ("delete", "remove a schedule (its runs stay)"),
                         ("trigger", "start one run now")):  # fmt: skip
        _named(actions, action, text)
    backfill = _named(actions, "backfill", "one run per tick in [--start, --end) that has none")
    backfill.add_argument("--start", required=True, type=_moment, help="ISO 8601, UTC if bare")
    backfill.add_argument("--end", required=True, type=_moment, help="ISO 8601, UTC if bare")


def _named(actions: Any, action: str, text: str) -> argparse.ArgumentParser:
    parser = actions.add_parser(action, help=text)
    parser.add_argument("name")
    parser.add_argument("--actor", help="name recorded in the audit log (default: OS user)")
    parser.add_argument("--reason", default="", help="why, recorded in the audit log")
    return parser


def _add_definition(parser: argparse.ArgumentParser, missed_default: str | None) -> None:
    parser.add_argument(
        "--args", dest="input_args", help="JSON list after the tick, e.g. '[\"emea\"]'"
    )
    parser.add_argument("--kwargs", dest="input_kwargs", help="JSON object of keyword arguments")
    parser.add_argument("--missed", choices=schedules.MISSED_POLICIES, default=missed_default)
    parser.add_argument("--queue")


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2026-11-01T00:00Z, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def handle_schedules(command, *, action: str, **options) -> None:
    if action == "list":
        return _list(command, as_json=options.get("json", False))
    name = options["name"]
    audit = {"actor": options.get("actor"), "reason": options.get("reason") or ""}
    if action == "create":
        info = schedules.create(
            name, options["workflow"], cron=options["cron"], paused=options["paused"],
            **_definition(options), **audit,
        )  # fmt: skip
    elif action == "update":
        changes = _definition(options)
        changes.update({key: options[key] for key in ("workflow", "cron") if options[key]})
        info = schedules.update(name, **changes, **audit)
    elif action == "trigger":
        handle = schedules.trigger(name, **audit)
        return command.stdout.write(command.style.SUCCESS(f"triggered {name}: run {handle.run_id}"))
    elif action == "backfill":
        result = schedules.backfill(name, options["start"], options["end"], **audit)
        return _report_backfill(command, name, result)
    elif action == "delete":
        schedules.delete(name, **audit)
        return command.stdout.write(command.style.SUCCESS(f"deleted {name}"))
    else:
        info = getattr(schedules, action)(name, **audit)
    command.stdout.write(command.style.SUCCESS(f"{action}d {name}: {_state(info)}"))


def _definition(options: dict[str, Any]) -> dict[str, Any]:
    """The options given (update changes only these)."""
    given: dict[str, Any] = {}
    if options.get("input_args") is not None:
        given["args"] = _parse(options["input_args"], list, "--args")
    if options.get("input_kwargs") is not None:
        given["kwargs"] = _parse(options["input_kwargs"], dict, "--kwargs")
    for key in ("missed", "queue"):
        if options.get(key) is not None:
            given[key] = options[key]
    return given


def _state(info: Any) -> str:
    if info.paused:
        return f"paused ({info.cron})"
    return f"{info.cron}, next tick {info.next_tick_at:%Y-%m-%d %H:%M:%S} UTC"


def _list(command, as_json: bool) -> None:
    listed = schedules.list()
    if as_json:
        return write_json(command, [dataclasses.asdict(info) for info in listed])
    rows = [(info.name, info.workflow, info.cron, info.source,
             "paused" if info.paused else "active", _when(info.last_tick_at),
             _when(info.next_tick_at), str(info.missed_ticks)) for info in listed]  # fmt: skip
    header = ("NAME", "WORKFLOW", "CRON", "SOURCE", "STATE", "LAST TICK", "NEXT TICK", "MISSED")
    _print_table(command, header, rows)


def _when(moment: datetime | None) -> str:
    return "–" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _report_backfill(command, name: str, result: Any) -> None:
    command.stdout.write(
        command.style.SUCCESS(f"backfilled {name}: started {len(result.started)} run(s)")
    )
    for run_id in result.started:
        command.stdout.write(f"  started {run_id}")
    if result.existing:
        command.stdout.write(f"{len(result.existing)} tick(s) already had a run; left alone")
