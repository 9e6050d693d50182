"""`durable export|import|replay|preview|compare`: the debugging tools, from the terminal."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from django.core.management.base import CommandError

from durable.debugging import compare, export, importing, preview, replay, stacks, step_logs
from durable.management.cli import scripting


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Print a run (input, checkpoints, attempts, children, lineage) as versioned JSON."""
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("--with-children", action="store_true", help="include every descendant run")
    parser.add_argument("--output", "-o", help="write to this file instead of stdout")


def handle_export(command, *, run_id, with_children=False, output=None, **_) -> None:
    document = export.export_run(run_id, with_children=with_children)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        command.stderr.write(f"exported {len(document['runs'])} run(s) to {output}")
    else:
        command.stdout.write(text)


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """Load runs exported with `durable export` into this database (checked, audited)."""
    parser.add_argument("file", metavar="FILE", help="an export file, or - for stdin")
    parser.add_argument(
        "--rename", action="store_true",
        help="import every run under a fresh id (imported-<random>-<id>): needed when an id "
        "is taken here or has a form the engine derives (child 'parent~N', schedule 'name@tick')",
    )  # fmt: skip
    parser.add_argument("--actor", help="name recorded in the audit log (default: OS user)")


def handle_import(command, *, file, rename=False, actor=None, **_) -> None:
    mapping = importing.import_file(file, rename=rename, actor=actor)
    for old, new in mapping.items():
        suffix = "" if old == new else f" as {new}"
        command.stdout.write(command.style.SUCCESS(f"imported {old}{suffix}"))


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    """Run a run's workflow code here against its recorded checkpoints, writing nothing."""
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument(
        "--until-step", type=scripting.non_negative_int, default=None, metavar="N",
        help="stop before step N",
    )  # fmt: skip
    parser.add_argument(
        "--json", dest="as_json", action="store_true", help="print the report as JSON"
    )
    parser.add_argument(
        "--pdb", action="store_true",
        help="re-run the failing step's body with its recorded input under pdb (post-mortem); "
        "its side effects outside this database happen again",
    )  # fmt: skip


def handle_replay(command, *, run_id, until_step=None, pdb=False, as_json=False, **_) -> None:
    report = replay.replay_run(run_id, until_step=until_step)
    if as_json and not pdb:
        return command.stdout.write(json.dumps(report.as_json(), indent=2, default=str))
    command.stdout.write(report.render())
    if not pdb:
        if report.outcome == "failure":
            command.stdout.write("  (re-run this step under the debugger with --pdb)")
        return
    if report.outcome == "child_failure":
        command.stderr.write("--pdb: the failure is in a child run; replay it with --pdb")
        return
    if report.outcome != "failure":
        command.stderr.write("--pdb: no failing step was reached, so there is nothing to debug")
        return
    command.stdout.write(
        f"--pdb: running step {report.position} ({report.step_name}) again with its recorded "
        "input; post-mortem on its exception (database writes are rolled back)"
    )
    command.stdout.flush()
    exc = replay.debug_failing_step(report, stdin=sys.stdin, stdout=sys.stdout)
    if exc is None:
        command.stdout.write("the step did not fail this time (the cause is outside its input)")


def add_preview_arguments(parser: argparse.ArgumentParser) -> None:
    """Which recorded steps a resume, restart or fork would run again, flagging repeats."""
    parser.add_argument("action", choices=preview.ACTIONS)
    parser.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    parser.add_argument("--from-step", type=scripting.non_negative_int, default=None, metavar="N")
    parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON")


def handle_preview(command, *, action, run_ids, from_step=None, as_json=False, **_) -> None:
    print_preview(command, action, run_ids, from_step, as_json=as_json)


def add_preview_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preview", action="store_true",
        help="only show which recorded steps would run again (and which may repeat side "
        "effects); change nothing",
    )  # fmt: skip


def print_preview(
    command,
    action: str,
    run_ids: list[str],
    from_step: int | None = None,
    *,
    patch: dict | None = None,
    as_json=False,
) -> None:
    result = preview.preview(action, run_ids, from_step, patch=patch)
    refused = {run.run_id: run.refused for run in result.runs if run.refused}
    every_run_refused = bool(refused) and len(refused) == len(result.runs)
    if as_json:  # the refusals are in it; every run refused still exits non-zero
        command.stdout.write(json.dumps(result.as_json(), indent=2))
    if every_run_refused:
        raise CommandError("\n".join(f"refused {run_id}: {why}" for run_id, why in refused.items()))
    if as_json:
        return
    flags = [entry["flagged"] for entry in result.summary()] or [False]
    for line, flagged in zip(result.lines(), flags, strict=True):
        command.stdout.write(command.style.WARNING(line) if flagged else line)
    for run_id, why in refused.items():
        command.stderr.write(f"refused {run_id}: {why}")


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """Every step where two runs differ (default B: last success with the same input shape)."""
    parser.add_argument("run_a", metavar="RUN_A")
    parser.add_argument("run_b", metavar="RUN_B", nargs="?", default=None)
    parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON")


def handle_compare(command, *, run_a, run_b=None, as_json=False, **_) -> None:
    comparison = compare.compare_runs(run_a, run_b)
    if as_json:
        command.stdout.write(json.dumps(comparison.as_json(), indent=2, default=str))
    else:
        command.stdout.write(comparison.render())


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """Where a running run is now: the live Python stack of its current step's thread."""
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument(
        "--locals", dest="include_locals", action="store_true",
        help="show each frame's local variables (bounded; secrets redacted)",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, default=None,
        help="seconds to wait for the owner's answer (default DURABLE_STACK_TIMEOUT_SECONDS)",
    )  # fmt: skip
    parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON")


def handle_stack(command, *, run_id, include_locals=False, timeout=None, as_json=False, **_):
    stack = stacks.live_stack(run_id, include_locals=include_locals, timeout=timeout)
    if as_json:
        command.stdout.write(json.dumps(stacks.as_json(stack), indent=2))
    else:
        command.stdout.write(stack.render())


def add_logs_arguments(parser: argparse.ArgumentParser) -> None:
    """The log records a run's steps emitted, per step and attempt (kept in PostgreSQL)."""
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("--step", type=scripting.whole_number(0), default=None,
                        help="only this step position")  # fmt: skip
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep printing new lines until the run ends")  # fmt: skip


def handle_logs(command, *, run_id, step=None, follow=False, **_) -> None:
    def write(line: step_logs.LogLine) -> None:
        command.stdout.write(line.render())
        command.stdout.flush()

    if follow:
        step_logs.follow(run_id, step, write)
        return
    run = export.get_run(run_id)
    written = 0
    for line in step_logs.lines(step_logs.batches(run.id, step)):
        write(line)
        written += 1
    if not written:  # an empty answer would read like a command that did nothing
        where = f"step {step} of run {run.id}" if step is not None else f"run {run.id}"
        command.stderr.write(
            f"no log lines recorded for {where}: a step's `logging` records at "
            "DURABLE_STEP_LOGS_LEVEL or above are kept per attempt (docs/debugging.md)"
        )
