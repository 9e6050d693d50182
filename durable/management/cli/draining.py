"""`durable drain|undrain EXECUTOR_ID`: stop an executor taking new runs, or let it again."""

from __future__ import annotations

import argparse

from durable import operations


def _add_executor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("executor_id", metavar="EXECUTOR_ID", help="as the Health page lists it")
    parser.add_argument("--actor", help="name recorded in the audit log (default: OS user)")
    parser.add_argument("--reason", default="", help="why, recorded in the audit log")


def add_drain_arguments(parser: argparse.ArgumentParser) -> None:
    """Stop an executor taking new runs; its runs in flight finish there."""
    _add_executor(parser)
    parser.add_argument(
        "--release-after", type=float, default=None, metavar="SECONDS",
        help="then release runs still in flight to other executors, mid-step (the step "
        "in flight runs again there)",
    )  # fmt: skip


def add_undrain_arguments(parser: argparse.ArgumentParser) -> None:
    """Let a drained executor take new runs again."""
    _add_executor(parser)


def handle_drain(command, *, executor_id, actor=None, reason="", release_after=None, **_) -> None:
    operations.drain_executor(executor_id, actor=actor, reason=reason, release_after=release_after)
    command.stdout.write(command.style.SUCCESS(f"draining {executor_id}"))


def handle_undrain(command, *, executor_id, actor=None, reason="", **_) -> None:
    operations.undrain_executor(executor_id, actor=actor, reason=reason)
    command.stdout.write(command.style.SUCCESS(f"undrained {executor_id}"))
