"""`durable queues list|set|reset`: the stored queue limits, changed at run time."""

from __future__ import annotations

import argparse
from typing import Any

from durable.queues import _limits as queue_limits
from durable.queues._limits import UNCHANGED, Limits

NONE_WORDS = ("none", "off", "unlimited")


def add_queues_arguments(parser: argparse.ArgumentParser) -> None:
    """Show or change queue limits as stored in the database (every worker obeys them)."""
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="each stored queue: its limits and who set them")
    change = actions.add_parser("set", help="override limits (wins over code until reset)")
    change.add_argument("name", metavar="QUEUE")
    change.add_argument("--concurrency", type=_count, default=UNCHANGED,
                        help="most runs of the queue at once, or 'none'")  # fmt: skip
    change.add_argument("--worker-concurrency", type=_count, default=UNCHANGED,
                        help="most runs at once on one executor, or 'none'")  # fmt: skip
    change.add_argument("--rate-limit", type=_rate, default=UNCHANGED, metavar="RUNS/SECONDS",
                        help="most starts per window, e.g. 50/60, or 'none'")  # fmt: skip
    change.add_argument("--priority", type=_switch, default=UNCHANGED, metavar="on|off",
                        help="start runs by priority, then age")  # fmt: skip
    reset = actions.add_parser("reset", help="drop the override: follow the code again")
    reset.add_argument("name", metavar="QUEUE")
    for sub in (change, reset):
        sub.add_argument("--actor", help="name recorded in the audit log (default: OS user)")
        sub.add_argument("--reason", default="", help="why, recorded in the audit log")


def _count(value: str) -> int | None:
    if value.lower() in NONE_WORDS:
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number or 'none'") from None


def _rate(value: str) -> tuple[int, float] | None:
    if value.lower() in NONE_WORDS:
        return None
    runs, _, seconds = value.partition("/")
    try:
        return int(runs), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: write RUNS/SECONDS, e.g. 50/60") from None


def _switch(value: str) -> bool:
    if value.lower() not in ("on", "off", "true", "false", "yes", "no"):
        raise argparse.ArgumentTypeError(f"{value!r}: write on or off")
    return value.lower() in ("on", "true", "yes")


def handle_queues(command, *, action: str, **options: Any) -> None:
    if action == "list":
        return _list(command)
    who: dict[str, Any] = {"actor": options.get("actor"), "reason": options.get("reason") or ""}
    if action == "reset":
        limits = queue_limits.reset_limits(options["name"], **who)
    else:
        given = {field: options[field] for field in queue_limits.FIELDS}
        limits = queue_limits.set_limits(options["name"], **given, **who)
    command.stdout.write(f"{limits.name}: {describe(limits)}")


def _list(command) -> None:
    rows = queue_limits.all_queues()
    if not rows:
        command.stdout.write("no queue is stored yet (a worker stores its declarations)")
    for row in rows:
        limits = queue_limits.limits_of(row)
        source = (
            f"override by {row.overridden_by} at {row.overridden_at:%Y-%m-%d %H:%M}"
            if row.override is not None
            else f"declared in {row.declared_in or '?'} by {row.declared_by or '?'}"
        )
        command.stdout.write(f"{row.name}: {describe(limits)}  [{source}]")
        if row.notice:
            command.stdout.write(f"  warning: {row.notice}")


def describe(limits: Limits) -> str:
    rate = limits.rate_limit
    parts = [
        f"concurrency={limits.concurrency or 'none'}",
        f"worker_concurrency={limits.worker_concurrency or 'none'}",
        f"rate_limit={f'{rate[0]}/{rate[1]:g}s' if rate else 'none'}",
        f"priority={'on' if limits.priority else 'off'}",
    ]
    return " ".join(parts)
