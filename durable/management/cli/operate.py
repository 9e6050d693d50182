"""`durable cancel|resume|hold|release|restart|fork|delete`: the operator actions, from the
terminal."""

from __future__ import annotations

import argparse
import json

from durable import operations
from durable.core.conf import settings
from durable.errors import SerializationError
from durable.management.cli import debug
from durable.operations import _retention as retention


def _add_ids(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    parser.add_argument("--actor", help="name recorded in the audit log (default: OS user)")
    parser.add_argument("--reason", default="", help="why, recorded in the audit log")


def _add_input(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--args", dest="input_args", help='edited positional input as a JSON list, e.g. "[42]"'
    )
    parser.add_argument(
        "--kwargs", dest="input_kwargs", help="edited keyword input as a JSON object"
    )


def _add_new_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run-id", dest="new_run_id", help="id of the new run (one RUN_ID only; refused if taken)"
    )
    parser.add_argument("--queue", help="queue of the new run (default: the original's)")
    parser.add_argument(
        "--timeout", type=float, help="run-level timeout of the new run, in seconds"
    )


def add_cancel_arguments(parser: argparse.ArgumentParser) -> None:
    """Cancel runs at their next step boundary (and their children, unless --no-children)."""
    _add_ids(parser)
    parser.add_argument(
        "--no-children", dest="children", action="store_false",
        help="cancel only the named runs; their children go on",
    )  # fmt: skip


def add_delete_arguments(parser: argparse.ArgumentParser) -> None:
    """Delete finished runs, with their children, and everything recorded for them."""
    _add_ids(parser)


def add_resume_arguments(parser: argparse.ArgumentParser) -> None:
    """Resume failed, cancelled or dead runs from their last checkpoint."""
    _add_ids(parser)
    debug.add_preview_flag(parser)


def add_hold_arguments(parser: argparse.ArgumentParser) -> None:
    """Hold runs: each stops at its next step boundary and waits until released."""
    _add_ids(parser)


def add_release_arguments(parser: argparse.ArgumentParser) -> None:
    """Release held runs: they go on from where they stopped."""
    _add_ids(parser)


def add_restart_arguments(parser: argparse.ArgumentParser) -> None:
    """Start new runs of the same workflows with the same (or edited) input."""
    _add_ids(parser)
    debug.add_preview_flag(parser)
    _add_input(parser)
    _add_new_run(parser)
    parser.add_argument(
        "--include-superseded", action="store_true",
        help="also restart runs already restarted or forked (skipped by default)",
    )  # fmt: skip


def add_fork_arguments(parser: argparse.ArgumentParser) -> None:
    """New runs that reuse checkpoints before --from-step and execute from it on."""
    _add_ids(parser)
    debug.add_preview_flag(parser)
    parser.add_argument(
        "--from-step",
        type=int,
        default=None,
        help="step to execute from (default: the first failed step)",
    )
    _add_input(parser)
    parser.add_argument(
        "--patch-step", type=int, default=None, metavar="K",
        help="replace the recorded output of step K (before --from-step) with --output",
    )  # fmt: skip
    parser.add_argument("--output", dest="patch_output", help="step K's new output, as JSON")
    _add_new_run(parser)


def handle_cancel(command, *, run_ids, actor=None, reason="", children=True, **_) -> None:
    result = operations.cancel(run_ids, actor=actor, reason=reason, children=children)
    _report(command, "cancelled", result)


def handle_delete(command, *, run_ids, actor=None, reason="", **_) -> None:
    result = operations.delete(run_ids, actor=actor, reason=reason)
    _report(command, "deleted", result)
    if result.cascaded:
        command.stdout.write(f"with their children: {', '.join(result.cascaded)}")


def handle_resume(command, *, run_ids, actor=None, reason="", preview=False, **_) -> None:
    if preview:
        return debug.print_preview(command, "resume", run_ids)
    _report(command, "resumed", operations.resume(run_ids, actor=actor, reason=reason))


def handle_hold(command, *, run_ids, actor=None, reason="", **_) -> None:
    _report(command, "held", operations.hold(run_ids, actor=actor, reason=reason))


def handle_release(command, *, run_ids, actor=None, reason="", **_) -> None:
    _report(command, "released", operations.release(run_ids, actor=actor, reason=reason))


def handle_restart(
    command,
    *,
    run_ids,
    actor=None,
    reason="",
    input_args=None,
    input_kwargs=None,
    preview=False,
    include_superseded=False,
    **options,
) -> None:
    if preview:
        return debug.print_preview(command, "restart", run_ids)
    result = operations.restart(
        run_ids,
        _parse(input_args, list, "--args"),
        _parse(input_kwargs, dict, "--kwargs"),
        actor=actor,
        reason=reason,
        include_superseded=include_superseded,
        **_new_run(options),
    )
    _report(command, "restarted", result)


def handle_fork(
    command,
    *,
    run_ids,
    actor=None,
    reason="",
    from_step=None,
    input_args=None,
    input_kwargs=None,
    **options,
) -> None:
    patch = _patch(options.get("patch_step"), options.get("patch_output"))
    if options.get("preview"):
        return debug.print_preview(command, "fork", run_ids, from_step, patch=patch)
    result = operations.fork(
        run_ids,
        from_step,
        _parse(input_args, list, "--args"),
        _parse(input_kwargs, dict, "--kwargs"),
        actor=actor,
        reason=reason,
        patch=patch,
        **_new_run(options),
    )
    _report(command, "forked", result)


def _new_run(options: dict) -> dict:
    """--run-id, --queue and --timeout as operations.restart/fork keywords."""
    return {name: options.get(name) for name in ("new_run_id", "queue", "timeout")}


def _patch(step: int | None, output: str | None) -> dict[int, object] | None:
    if step is None and output is None:
        return None
    if step is None or output is None:
        raise SerializationError("--patch-step K and --output JSON go together")
    return {step: _parse(output, object, "--output")}


def _parse(text: str | None, expected: type, flag: str):
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SerializationError(f"{flag} is not valid JSON ({exc}); e.g. {flag} '[42]'") from exc
    if not isinstance(value, expected):
        raise SerializationError(f"{flag} must be a JSON {expected.__name__}")
    return value


def _report(command, verb: str, result: operations.BulkResult) -> None:
    for run_id, new_id in result.done.items():
        suffix = "" if new_id == run_id else f" -> {new_id}"
        command.stdout.write(command.style.SUCCESS(f"{verb} {run_id}{suffix}"))
    for run_id, reason in result.refused.items():
        command.stderr.write(f"refused {run_id}: {reason}")
    for run_id, why in result.unconfirmed.items():
        command.stderr.write(f"not confirmed {run_id}: {why}")
    for run_id, successor in result.skipped.items():
        command.stderr.write(f"skipped {run_id}: superseded by {successor}")
    if result.skipped:
        command.stderr.write(
            f"skipped {result.skipped_count} superseded run(s), already restarted or forked; "
            "pass --include-superseded to restart them again"
        )
    if (result.refused or result.skipped) and not result.done:
        raise SystemExit(1)


def add_prune_arguments(parser: argparse.ArgumentParser) -> None:
    """Delete finished runs (and their checkpoints) older than an age, in batches."""
    parser.add_argument(
        "--older-than",
        default=None,
        help="age such as 30d, 12h or 90m (default: DURABLE_RETENTION)",
    )
    parser.add_argument("--batch-size", type=int, default=1000)


def handle_prune(command, *, older_than=None, batch_size=1000, **_) -> None:
    age_text = older_than or settings.DURABLE_RETENTION
    if not age_text:
        raise SerializationError("say how old: --older-than 30d (or set DURABLE_RETENTION)")
    try:
        age = retention.parse_age(age_text)
    except ValueError as exc:
        raise SerializationError(str(exc)) from exc

    def show(done: int, total: int) -> None:
        filled = int(30 * done / total) if total else 30
        command.stdout.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,} runs", ending=""
        )

    deleted = retention.prune(age, batch_size=batch_size, progress=show)
    command.stdout.write("")
    command.stdout.write(
        command.style.SUCCESS(f"pruned {deleted:,} run(s) finished before {age_text} ago")
    )
