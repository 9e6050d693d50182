"""Runs ending in this process, told at once to the `result()` calls waiting here.

A run executing on this process's threads wakes its waiters when its execution here is over
(its log line written, its trace span ended, its failure signalled: result() never returns
before them); when its thread wrote the end itself (`store.finish_run`), it keeps that outcome
(`wrote`) for the waiters, who then read no row. Every other ending (suspended, released,
cancelled or finished elsewhere) only wakes them: they read the row, as they do after each
bounded wait (the fallback poll).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

# (status, output JSON text, error JSON text) as the finishing thread wrote them
Outcome = tuple[str, str | None, str | None]


@dataclass
class Ending:
    """What the waiters of one run share: a wake-up, and the outcome if written here."""

    event: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    waiters: int = 0


_endings: dict[str, Ending] = {}
_here: set[str] = set()  # runs handed to, or executing on, this process's threads
_lock = threading.Lock()


def watch(run_id: str) -> Ending:
    """Start waiting for `run_id` here; pair with `unwatch`."""
    with _lock:
        ending = _endings.setdefault(run_id, Ending())
        ending.waiters += 1
        return ending


def unwatch(run_id: str, ending: Ending) -> None:
    with _lock:
        ending.waiters -= 1
        if ending.waiters <= 0 and _endings.get(run_id) is ending:
            del _endings[run_id]


def began(run_id: str) -> None:
    """The run is on (or handed to) a thread of this process: its end will be told here."""
    with _lock:
        _here.add(run_id)


def executing_here(run_id: str) -> bool:
    with _lock:
        return run_id in _here


def wrote(run_id: str, outcome: Outcome) -> None:
    """This thread wrote the run's end: kept for the waiters, who are woken by `ended`."""
    with _lock:
        ending = _endings.get(run_id)
        if ending is not None:
            ending.outcome = outcome


def ended(run_id: str) -> None:
    """The run's execution here is over: wake its waiters."""
    with _lock:
        _here.discard(run_id)
        ending = _endings.get(run_id)
    if ending is not None:
        ending.event.set()


def wake(run_id: str) -> None:
    """The run ended elsewhere (a notice): its waiters here read its row. A notice of a run
    still executing here wakes no one: `ended` will, once its execution here is over."""
    with _lock:
        if run_id in _here:
            return
        ending = _endings.get(run_id)
    if ending is not None:
        ending.event.set()


def watched() -> bool:
    """Whether any result() here waits for a run."""
    with _lock:
        return bool(_endings)
