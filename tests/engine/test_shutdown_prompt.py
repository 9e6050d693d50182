"""An executor stops at once when it has nothing to finish: no thread of its own makes the
shutdown wait out a poll interval (tests stop one after every test; a deploy stops one at
every reload)."""

from __future__ import annotations

import time

import durable
from durable import executors
from durable.executors.cancellations import CancelListener
from tests.engine.workflows import sum_three

# seconds: under the 0.2 s the workers wait on their queue, the 0.5 s the listener polled
PROMPT = 0.15


def test_the_cancel_listener_stops_at_once(transactional_db):
    listener = CancelListener("shutdown-test", lambda run_id: False).start()
    time.sleep(0.1)  # in its wait for the next notice
    began = time.monotonic()
    listener.stop()
    assert time.monotonic() - began < PROMPT
    assert not listener._thread.is_alive()


def test_an_idle_executor_shuts_down_at_once(transactional_db):
    executors.get_executor()
    time.sleep(0.3)  # every thread started and waiting
    began = time.monotonic()
    executors.shutdown()
    assert time.monotonic() - began < PROMPT


def test_an_executor_that_ran_runs_shuts_down_at_once(transactional_db):
    """Releasing the runs no thread took yet empties the queue: the wake-ups put there for
    the waiting threads must not go with them (each thread would wait out its poll)."""
    for _ in range(3):
        assert durable.start(sum_three, 1, 2, 3).result(timeout=10) == 6
    began = time.monotonic()
    executors.shutdown()
    assert time.monotonic() - began < PROMPT
