"""Database ids are never taken from a file: imported step and attempt rows get theirs
from the sequences, so rows planted with the ids the sequence hands out next block nothing."""

from __future__ import annotations

import json

from django.db import connection

import durable
from durable.debugging import importing
from durable.models import Attempt, Step
from tests.engine import workflows
from tests.engine.import_files import AT, document, error_record, run_entry, step_record

PLANTED = 1000


def _next_ids(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")
        return cursor.fetchone()[0]


def _planted_file() -> str:
    step_base, attempt_base = _next_ids("durable_step"), _next_ids("durable_attempt")
    steps = [step_record(i, id=step_base + 1 + i) for i in range(PLANTED)]
    attempts = [{"id": attempt_base + 1 + i, "position": i, "attempt": 1, "name": "x",
                 "error": error_record("builtins.ValueError"), "started_at": AT,
                 "finished_at": AT} for i in range(PLANTED)]  # fmt: skip
    return json.dumps(document(run_entry("planted-rows", steps=steps, attempts=attempts)))


def test_new_runs_checkpoint_normally_after_a_file_with_planted_step_row_ids(transactional_db):
    importing.import_text(_planted_file(), name="planted.json")
    assert Step.objects.filter(run_id="planted-rows").count() == PLANTED
    assert Attempt.objects.filter(run_id="planted-rows").count() == PLANTED

    runs = [durable.start(workflows.sum_three, i, 2, 3, run_id=f"after-{i}") for i in range(5)]
    assert [run.result(timeout=60) for run in runs] == [i + 5 for i in range(5)]
    assert Step.objects.filter(run__id__startswith="after-").count() == 10
    importing.import_text(_planted_file(), name="planted.json", rename=True)  # later imports too
    assert Step.objects.count() == 2 * PLANTED + 10
