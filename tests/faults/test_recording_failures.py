"""A failure while recording a failed attempt is not the run's failure."""

from __future__ import annotations

from django.db import connection

import durable
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
