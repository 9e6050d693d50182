"""One entry of a run's history at a time: replay the recorded one, or run and record it.

Steps and every primitive (child runs, sleep, send, recv, events) go through
`replay_or_run`, so the determinism check — the code asks, at each position, for the
entry the history holds there, with the same input — lives here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from durable.core import store
from durable.core._context import RecordedStep, RunContext
from durable.core._serialization import EntryInput
from durable.errors import NonDeterminismError

T = TypeVar("T")

SHOWN_INPUT_CHARS = 300


def replay_or_run(
    run_context: RunContext,
    name: str,
    entry: EntryInput | None,
    run: Callable[[int], T],
    replay: Callable[[RecordedStep], T],
) -> T:
    """At the next position: `replay` the recorded entry once it is checked to be this
    call (same name, same input hash), or `run(position)`, which executes and records it.

    `entry` None: the call has no input to compare (a sleep's duration may be computed
    from the clock; its recorded wake-up time is what counts).
    """
    return replay_or_run_at(run_context, run_context.next_position(), name, entry, run, replay)


def replay_or_run_at(
    run_context: RunContext,
    position: int,
    name: str,
    entry: EntryInput | None,
    run: Callable[[int], T],
    replay: Callable[[RecordedStep], T],
) -> T:
    """`replay_or_run` at a position taken earlier (an async call takes it when called)."""
    recorded = recorded_entry(run_context, position, name, entry)
    if recorded is None:
        run_context.check_interrupted()
        return run(position)
    return replay(recorded)


def recorded_entry(
    run_context: RunContext, position: int, name: str, entry: EntryInput | None
) -> RecordedStep | None:
    """The entry recorded at `position`, checked to be this call; None if none is."""
    recorded = run_context.recorded.get(position)
    if recorded is not None:
        check_same_call(run_context, position, recorded, name, entry)
    return recorded


def check_same_call(
    run_context: RunContext,
    position: int,
    recorded: RecordedStep,
    name: str,
    entry: EntryInput | None,
) -> None:
    """Raise (and remember, so a workflow's `except` cannot hide it) a NonDeterminismError
    if `recorded` is not this call."""
    if recorded.name != name:
        what = f"code asked for {name!r} but the history has {recorded.name!r}"
    elif entry is not None and recorded.input_hash and entry.hash != recorded.input_hash:
        was = store.step_input(run_context.run_id, position)
        what = (
            f"code called {name!r} with another input than the history holds: "
            f"recorded {_shorten(was)}, now {_shorten(entry.text)}"
        )
    else:
        return
    run_context.nondeterminism = NonDeterminismError(
        f"run {run_context.run_id} step {position}: {what}; deploy the code version that "
        f"started this run ({run_context.workflow.name}), or fork the run from step {position}"
    )
    raise run_context.nondeterminism


def _shorten(text: str | None) -> str:
    if text is None:
        return "(none)"
    if len(text) <= SHOWN_INPUT_CHARS:
        return text
    return text[:SHOWN_INPUT_CHARS] + f"… ({len(text):,} characters)"
