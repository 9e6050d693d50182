"""Two operators acting on one run at the same instant: one outcome, and the second is told."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import pytest
from django.db import connection
from django.utils import timezone

from durable import operations
from durable.errors import OperationRefused
from durable.models import Run, Step
from tests.dashboard.conftest import make_failed_run


def _at_once(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads released together; each result or exception, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(index: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_a_repeated_request_id_returns_the_first_result(transactional_db):
    run = make_failed_run()
    first = operations.restart([run.id], request_id="form-1", actor="alice")
    again = operations.restart([run.id], request_id="form-1", actor="bob")
    assert again.done == first.done and again.previous["actor"] == "alice"
    assert Run.objects.filter(forked_from=run).count() == 1


@pytest.mark.parametrize("action", ["restart", "fork"])
def test_two_submissions_of_one_form_at_the_same_instant_make_one_run(transactional_db, action):
    for _ in range(10):
        run = make_failed_run()
        call = getattr(operations, action)
        extra = {"from_step": 1} if action == "fork" else {}
        submit = partial(call, run.id, request_id=f"{run.id}-form", **extra)
        results = _at_once(submit, submit)
        assert results[0] == results[1] and isinstance(results[0], str)
        assert Run.objects.filter(forked_from=run).count() == 1


def test_two_operators_restarting_what_they_both_saw_make_one_run(transactional_db):
    for _ in range(10):
        run = make_failed_run()
        seen = timezone.now()
        results = _at_once(
            *(
                partial(operations.restart, run.id, actor=actor, unless_derived_since=seen)
                for actor in ("alice", "bob")
            )
        )
        assert Run.objects.filter(forked_from=run).count() == 1
        refused = [r for r in results if isinstance(r, OperationRefused)]
        assert len(refused) == 1 and "after you loaded the page" in str(refused[0])
        assert "restarted it at" in str(refused[0])


def test_a_fork_racing_a_resume_copies_a_consistent_history(transactional_db):
    for _ in range(20):
        run = make_failed_run()  # step 0 succeeded, step 1 failed
        results = _at_once(
            partial(operations.fork, run.id, from_step=2), partial(operations.resume, run.id)
        )
        fork_id = results[0]
        if isinstance(fork_id, OperationRefused):
            # before the resume: step 1's failure ended the run, so a fork past it is refused
            # (lineage); after it: the dropped step 1 was never reached
            message = str(fork_id)
            assert "never reached step 2" in message or "ended the run" in message
            continue
        fork = Run.objects.get(id=fork_id)
        assert Step.objects.filter(run_id=fork_id).count() == fork.forked_from_step == 2
