"""The database keeps a run's status and a checkpoint's status and kind to their choices, with
checks cheap enough for every statement of the hot path: durable/models/constraints.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from durable.models import Run, RunStatus, Step, StepKind, StepStatus
from durable.models.constraints import _array_literal, one_of

# the checks of choices on the tables every start, checkpoint and finish writes
HOT_CHECKS = {
    "durable_run": {"durable_run_status_valid"},
    "durable_step": {"durable_step_status_valid", "durable_step_kind_valid"},
}
BEFORE = ("durable", "0037_history_functions_by_index")


def _checks(table: str) -> dict[str, tuple[str, bool]]:
    """The hot checks of `table` (or of its partition): definition, and whether validated."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'c'",
            [table],
        )
        return {name: (definition, valid) for name, definition, valid in cursor.fetchall()}


def _tables() -> list[tuple[str, str]]:
    """(table, parent) for each hot table and each partition of one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text, inhparent::regclass::text FROM pg_inherits"
            " WHERE inhparent = ANY(%s::regclass[])",
            [list(HOT_CHECKS)],
        )
        return [(table, table) for table in HOT_CHECKS] + cursor.fetchall()


def _assert_every_hot_check(as_one_array: bool) -> None:
    for table, parent in _tables():
        checks = _checks(table)
        for name in HOT_CHECKS[parent]:
            definition, valid = checks[name]
            assert valid, f"{table}.{name} was never validated"
            assert ("ARRAY[" not in definition) is as_one_array, f"{table}.{name}: {definition}"
            assert ("'::text[]" in definition) is as_one_array, f"{table}.{name}: {definition}"


@pytest.mark.django_db
def test_the_checks_of_the_hot_tables_are_one_array_constant_each_on_every_partition():
    """An `IN (…)` list is stored as one constant per choice, each cast, all of it read and
    planned again at every insert: the hot tables' checks hold one array literal instead."""
    _assert_every_hot_check(as_one_array=True)


def _migrate(target: tuple[str, str] | None) -> None:
    executor = MigrationExecutor(connection)
    if target is None:  # the latest
        target = next(node for node in executor.loader.graph.leaf_nodes() if node[0] == "durable")
    executor.migrate([target])
    connection.close()  # prepared statements made against the old constraints go too


@pytest.mark.django_db(transaction=True)
def test_the_migration_swaps_the_checks_on_every_partition_and_back():
    try:
        _migrate(BEFORE)
        _assert_every_hot_check(as_one_array=False)
        _migrate(None)
        _assert_every_hot_check(as_one_array=True)
    finally:
        _migrate(None)


def _insert_step(run: Run, **overrides: str) -> None:
    values = {"kind": "step", "status": "SUCCESS", **overrides}
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO durable_step (run_id, run_created_at, position, name, kind, status,"
            " error_type, error_fingerprint, attempts, started_at, finished_at, duration_ms)"
            " VALUES (%s, %s, 0, 'checked', %s, %s, '', '', 1, %s, %s, 0)",
            [run.id, run.created_at, values["kind"], values["status"], now, now],
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "column, allowed", [("kind", StepKind.values), ("status", StepStatus.values)]
)
def test_a_checkpoint_of_another_kind_or_status_is_refused_by_the_database(column, allowed):
    run = Run.objects.create(id="checked-step", workflow="w", status=RunStatus.RUNNING)
    for value in ("", "STEP" if column == "kind" else "success", "{step}", "x" * 8):
        with pytest.raises(IntegrityError, match=f"durable_step_{column}_valid"):
            _insert_step(run, **{column: value})
    for value in allowed:
        _insert_step(run, **{column: value})
        Step.objects.filter(run=run).delete()


@pytest.mark.django_db
def test_a_run_of_another_status_is_refused_by_the_database():
    run = Run.objects.create(id="checked-run", workflow="w", status=RunStatus.RUNNING)
    for value in ("", "running", "DONE"):
        with (
            pytest.raises(IntegrityError, match="durable_run_status_valid"),
            transaction.atomic(),
        ):
            Run.objects.filter(pk=run.pk).update(status=value)
    for value in RunStatus.values:
        Run.objects.filter(pk=run.pk).update(status=value)


@pytest.mark.django_db
def test_a_form_or_the_admin_is_told_which_choice_is_wrong_before_any_write():
    """Model validation (the admin's forms) evaluates the same condition, in a query."""
    run = Run.objects.create(id="validated", workflow="w", status=RunStatus.RUNNING)
    now = timezone.now()
    step = Step(
        run=run, run_created_at=run.created_at, position=0, name="n", kind="step",
        status="SUCCESS", started_at=now, finished_at=now,
    )  # fmt: skip
    step.validate_constraints()
    step.kind = "nope"
    with pytest.raises(ValidationError, match="durable_step_kind_valid"):
        step.validate_constraints()
    run.status = "nope"
    with pytest.raises(ValidationError, match="durable_run_status_valid"):
        run.validate_constraints()


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
# any text PostgreSQL can hold: UTF-8 (no lone surrogate, which psycopg cannot even send)
# without NUL
@given(st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00")), max_size=6))
def test_the_array_literal_reads_back_as_the_values_written(values):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[]", [_array_literal(values)])
        assert cursor.fetchone()[0] == values


@pytest.mark.parametrize("choices", [[], [1, 2], ["a", None]])
def test_a_check_of_no_choices_or_of_other_values_than_text_is_refused_when_declared(choices):
    with pytest.raises(ValueError, match="one or more strings"):
        one_of("status", choices)
