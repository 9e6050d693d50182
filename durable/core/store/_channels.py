"""The PostgreSQL NOTIFY channels the engine speaks on, and what their payloads say.

A cancel notifies each cancelled run's id on CANCEL_CHANNEL when its transaction commits;
an operator's drain notifies the executor on DRAIN_CHANNEL (a run id is never read as a
drain). Executors LISTEN on both (durable.executors.cancellations). A run's finish
notifies FINISH_CHANNEL unless the run was claimed in its insert (then its waiter is in the
process that executes it, and is told there); a process waiting for runs elsewhere LISTENs
on it and on CANCEL_CHANNEL (durable.core._finish_notices).
"""

from __future__ import annotations

CANCEL_CHANNEL = "durable_cancel"  # payload: a cancelled run's id
FINISH_CHANNEL = "durable_finish"  # payload: the id of a run that just ended
DRAIN_CHANNEL = "durable_drain"  # payload: drain_notice(...)

# run on the listener's own autocommit connection (a LISTEN holds its session), not
# through `_execute`: the listener reconnects and listens again when it is lost
LISTEN_CANCELS = f"LISTEN {CANCEL_CHANNEL}"
LISTEN_DRAINS = f"LISTEN {DRAIN_CHANNEL}"
LISTEN_FINISHES = f"LISTEN {FINISH_CHANNEL}"


def drain_notice(executor_id: str, draining: bool, release_after: float | None) -> str:
    """`drain:<id>:<seconds or empty>` or `undrain:<id>:` (ids hold no newline)."""
    if not draining:
        return f"undrain:{executor_id}:"
    return f"drain:{executor_id}:{'' if release_after is None else release_after}"


def parse_drain_notice(payload: str) -> tuple[str, bool, float | None]:
    """(executor id, draining, seconds until release) from a drain_notice; ValueError if the
    payload is not one."""
    verb, _, rest = payload.partition(":")
    executor_id, colon, seconds = rest.rpartition(":")
    if verb not in ("drain", "undrain") or not executor_id or not colon:
        raise ValueError(f"not a drain notice: {payload[:200]!r}")
    if verb == "undrain" and seconds:
        raise ValueError(f"an undrain notice has no release deadline: {payload[:200]!r}")
    return executor_id, verb == "drain", float(seconds) if seconds else None
