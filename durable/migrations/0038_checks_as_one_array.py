"""The status and kind checks of durable_run and durable_step as one array constant each.

PostgreSQL parses and plans a CHECK constraint again for every statement that writes its
table, and the `IN (…)` form cost each checkpoint about 10–15 µs of server time more than
the `= ANY('{…}'::text[])` form (durable/models/constraints.py). The allowed values do not
change, so no row can fail the new check. Each is added NOT VALID in place of the old one,
then validated after that commits: the swap takes the table's exclusive lock, waiting at
most LOCK_TIMEOUT for it, so a long transaction on the history never queues checkpoints
and starts behind the migration (it tries again, then says what holds it). Validation
reads the table under a lock that lets writes go on.

The SQL is written out here, not built from the engine's models, so the migration keeps
doing what it did when the models change.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import OperationalError, migrations, models

import durable.models.constraints

LOCK_TIMEOUT = "2s"
LOCK_ATTEMPTS = 15
LOCK_NOT_AVAILABLE = "55P03"

RUN_STATUSES = ["ENQUEUED", "RUNNING", "SUCCESS", "ERROR", "CANCELLED", "DEAD"]
STEP_STATUSES = ["SUCCESS", "ERROR"]
STEP_KINDS = [
    "step", "transaction", "child", "sleep", "send", "recv", "set_event", "get_event", "wait",
    "stream",
]  # fmt: skip

# (model, table, constraint, column, its choices): the checks replaced
CHECKS = [
    ("run", "durable_run", "durable_run_status_valid", "status", RUN_STATUSES),
    ("step", "durable_step", "durable_step_status_valid", "status", STEP_STATUSES),
    ("step", "durable_step", "durable_step_kind_valid", "kind", STEP_KINDS),
]


def _as_one_array(column: str, values: list[str]) -> str:
    listed = ",".join(f'"{value}"' for value in values)  # plain words: nothing to escape
    return f"(\"{column}\")::text = ANY('{{{listed}}}'::text[])"


def _as_in_list(column: str, values: list[str]) -> str:
    listed = ", ".join(f"'{value}'" for value in values)
    return f'"{column}" IN ({listed})'


def _one_of(name: str, column: str, values: list[str]) -> models.CheckConstraint:
    condition = models.Q(durable.models.constraints.OneOf(models.F(column), values))
    return models.CheckConstraint(condition=condition, name=name)


def _replace(schema_editor: Any, table: str, name: str, check: str) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        try:
            _swap(cursor, table, name, check)
        finally:
            cursor.execute("RESET lock_timeout")
        cursor.execute(f'ALTER TABLE "{table}" VALIDATE CONSTRAINT "{name}"')


def _swap(cursor: Any, table: str, name: str, check: str) -> None:
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            cursor.execute(
                f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}", '
                f'ADD CONSTRAINT "{name}" CHECK ({check}) NOT VALID'
            )
            return
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            if attempt == LOCK_ATTEMPTS:
                raise OperationalError(
                    f"{table}: no lock within {LOCK_TIMEOUT} in {LOCK_ATTEMPTS} tries; a long "
                    "transaction holds the table (see pg_stat_activity): end it and run "
                    "migrate again"
                ) from exc
            time.sleep(1)


def as_one_array(apps: Any, schema_editor: Any) -> None:
    for _, table, name, column, values in CHECKS:
        _replace(schema_editor, table, name, _as_one_array(column, values))


def as_in_lists(apps: Any, schema_editor: Any) -> None:
    for _, table, name, column, values in CHECKS:
        _replace(schema_editor, table, name, _as_in_list(column, values))


class Migration(migrations.Migration):
    # each ALTER commits on its own: validating in the transaction that swapped the
    # constraint would hold that lock on the history while every row is read
    atomic = False

    dependencies = [
        ("durable", "0037_history_functions_by_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *(migrations.RemoveConstraint(model, name) for model, _, name, _, _ in CHECKS),
                *(
                    migrations.AddConstraint(model, _one_of(name, column, values))
                    for model, _, name, column, values in CHECKS
                ),
            ],
        ),
        migrations.RunPython(as_one_array, as_in_lists),
    ]
