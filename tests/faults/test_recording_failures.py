"""A failure while recording a failed attempt is not the run's failure; a checkpoint that
cannot be written gives the run back for recovery instead of leaving it RUNNING."""

from __future__ import annotations

import contextlib

import pytest
from django.db import connection

import durable
from durable.errors import RunDeadError
from durable.models import Recovery, Run, RunStatus, Step
from tests.faults.workflows import flaky_workflow


def test_a_failure_to_record_a_failed_attempt_does_not_fail_the_run(transactional_db):
    with connection.cursor() as cursor:  # a real database error on every attempt insert
        cursor.execute(
            "CREATE FUNCTION refuse_attempt() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'attempts table unavailable'; END $$;"
            " CREATE TRIGGER refuse_attempt BEFORE INSERT ON durable_attempt"
            " FOR EACH ROW EXECUTE FUNCTION refuse_attempt()"
        )
    try:
        assert durable.start(flaky_workflow, "rec-1", run_id="rec-1").result(timeout=10) == "ok"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER refuse_attempt ON durable_attempt; DROP FUNCTION refuse_attempt()"
            )


REFUSE_CHECKPOINTS = """
CREATE SEQUENCE refused_checkpoints;
CREATE FUNCTION refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- a sequence is not rolled back with the refused insert: it counts the refusals
    IF NEW.name = 'faults.refused' AND nextval('refused_checkpoints') <= %(times)s THEN
        RAISE EXCEPTION 'checkpoint refused';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_checkpoint BEFORE INSERT ON durable_step
FOR EACH ROW EXECUTE FUNCTION refuse_checkpoint()
"""

ALLOW_CHECKPOINTS = """
DROP TRIGGER refuse_checkpoint ON durable_step; DROP FUNCTION refuse_checkpoint();
DROP SEQUENCE refused_checkpoints
"""


@durable.step(name="faults.refused")
def refused(key: str) -> str:
    return f"done {key}"


@durable.workflow(name="faults.refused_checkpoint", max_recoveries=2)
def refused_checkpoint(key: str) -> str:
    return refused(key)


def _refusing(times: int) -> contextlib.AbstractContextManager[None]:
    """A real, non-transient database error on the first `times` checkpoints of the step."""

    @contextlib.contextmanager
    def refusing():
        with connection.cursor() as cursor:
            cursor.execute(REFUSE_CHECKPOINTS, {"times": times})
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(ALLOW_CHECKPOINTS)

    return refusing()


def test_a_refused_checkpoint_gives_the_run_back_counting_a_recovery(transactional_db):
    with _refusing(times=1):
        handle = durable.start(refused_checkpoint, "gb-1", run_id="gb-1")
        assert handle.result(timeout=15) == "done gb-1"
    run = Run.objects.get(id="gb-1")
    assert (run.status, run.recovery_count) == (RunStatus.SUCCESS, 1)
    assert list(Recovery.objects.filter(run_id="gb-1").values_list("outcome", flat=True)) == [
        "ENQUEUED"
    ]
    step = Step.objects.get(run_id="gb-1", position=0)
    assert step.attempts == 2  # the attempt whose checkpoint was refused keeps its number


def test_a_checkpoint_refused_every_time_ends_the_run_dead_not_running(transactional_db):
    with _refusing(times=100):
        handle = durable.start(refused_checkpoint, "gb-2", run_id="gb-2")
        with pytest.raises(RunDeadError):
            handle.result(timeout=15)
    run = Run.objects.get(id="gb-2")
    assert (run.status, run.recovery_count, run.executor_id) == (RunStatus.DEAD, 2, None)
    assert Recovery.objects.filter(run_id="gb-2").count() == 3
