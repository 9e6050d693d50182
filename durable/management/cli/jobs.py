"""`durable bulk|jobs|job`: start a bulk job, list jobs, show or steer one."""

from __future__ import annotations

import argparse

from durable import operations
from durable.debugging import dry_run as dry_runs
from durable.models import BulkJob
from durable.operations import _jobs


def add_bulk_arguments(parser: argparse.ArgumentParser) -> None:
    """Start a bulk job on the executors: an action over run ids or a filter."""
    parser.add_argument(
        "action", choices=["cancel", "resume", "hold", "release", "restart", "fork"]
    )
    parser.add_argument("run_ids", nargs="*", metavar="RUN_ID")
    for field in _jobs.FILTER_FIELDS:
        parser.add_argument(f"--{field}", help=f"every run with this {field} (instead of ids)")
    parser.add_argument("--reason", default="", help="why, recorded in the audit log")
    parser.add_argument("--actor", help="name recorded in the audit log (default: OS user)")
    parser.add_argument("--rate", type=float, help="at most this many runs per second")
    parser.add_argument("--concurrency", type=int, help="at most this many of its runs in flight")
    parser.add_argument("--canary", type=int, help="do this many first and judge their outcome")
    parser.add_argument("--canary-max-failed", type=float, default=0.0, metavar="PERCENT")
    parser.add_argument("--request-id", help="a repeat with the same id starts nothing new")
    parser.add_argument("--dry-run", action="store_true",
                        help="resume or fork: replay a sample against the code deployed now and "
                             "say which runs would diverge; start nothing")  # fmt: skip


def add_jobs_arguments(parser: argparse.ArgumentParser) -> None:
    """List bulk jobs, newest first, with their progress."""
    parser.add_argument("--limit", type=int, default=20)


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """Show one bulk job; --pause, --resume or --abort it."""
    parser.add_argument("job_id", metavar="JOB_ID")
    verbs = parser.add_mutually_exclusive_group()
    for verb in ("pause", "resume", "abort"):
        verbs.add_argument(f"--{verb}", action="store_const", const=verb, dest="verb")
    parser.add_argument("--reason", default="", help="why, recorded in the audit log")
    parser.add_argument("--actor", help="name recorded in the audit log (default: OS user)")


def handle_bulk(command, *, action, run_ids, reason, actor, rate, concurrency, canary,
                canary_max_failed, request_id, dry_run=False, **options) -> None:  # fmt: skip
    chosen = {field: options[field] for field in _jobs.FILTER_FIELDS if options.get(field)}
    if dry_run:
        ids = _jobs.selected(None if chosen else run_ids, chosen or None)
        for line in dry_runs.dry_run(action, ids).lines():
            command.stdout.write(line)
        return
    job = operations.start_bulk_job(
        action, None if chosen else run_ids, filter=chosen or None, actor=actor,
        reason=reason, request_id=request_id, rate=rate, concurrency=concurrency,
        canary=canary, canary_max_failed=canary_max_failed,
    )  # fmt: skip
    command.stdout.write(f"started bulk {job.action} job {job.id} over {job.total} run(s)")
    command.stdout.write(f"follow it with: manage.py durable job {job.id}")


def handle_jobs(command, *, limit, **_) -> None:
    jobs = operations.list_jobs(limit)
    command.stdout.write(f"{'JOB':36}  {'ACTION':8} {'STATE':9} {'DONE':>7} {'REFUSED':>7} "
                         f"{'LEFT':>7} {'RUNS/S':>7}  BY / WHY")  # fmt: skip
    for job in jobs:
        command.stdout.write(_line(job))
    if not jobs:
        command.stdout.write("no bulk jobs")


def _line(job: BulkJob) -> str:
    rate = f"{job.runs_per_second:.1f}" if job.runs_per_second else "-"
    counts = f"{job.done:>7} {job.refused_count:>7} {job.left:>7} {rate:>7}"
    return (
        f"{job.id!s:36}  {job.action:8} {job.state.lower():9} {counts}  {job.actor}: {job.reason}"
    )


def handle_job(command, *, job_id, verb=None, reason="", actor=None, **_) -> None:
    job = operations.get_job(job_id)
    if verb:
        job = {"pause": operations.pause_job, "resume": operations.resume_job,
               "abort": operations.abort_job}[verb](job_id, actor=actor, reason=reason)  # fmt: skip
    eta = f"{job.eta_seconds:.0f} s" if job.eta_seconds else "-"
    rate = f"{job.runs_per_second:.1f} runs/s" if job.runs_per_second else "-"
    for label, value in [
        ("job", job.id), ("action", job.action), ("state", job.state.lower()),
        ("stopped because", job.stop_reason or None), ("started by", job.actor),
        ("reason", job.reason), ("created", job.created_at.isoformat()),
        ("progress", f"{job.processed} of {job.total} processed ({job.percent}%)"),
        ("done", job.done), ("refused", job.refused_count), ("skipped", job.skipped),
        ("left", job.left), ("rate", rate), ("eta", eta), ("run", job.run_id),
    ]:  # fmt: skip
        if value is not None:
            command.stdout.write(f"{label + ':':17}{value}")
    for why, entry in job.refused.items():
        command.stdout.write(f"  refused {entry['count']}: {why}")
