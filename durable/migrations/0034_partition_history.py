"""Partition the history tables (checkpoints, attempts, step logs) by their run's creation
time (docs/partitioning.md).

Each table is renamed aside, a partitioned table takes its name, and the rows are copied
across in batches of BATCH (each batch its own transaction, so a large table neither holds
one huge transaction nor starts over when interrupted: running `migrate` again resumes
after the last copied id). Rows that existed before get one partition, `<table>_pmin`
(everything created before tomorrow, UTC), which retention drops whole once every run in it
is past retention (a new installation gets today's instead); the executors' timed duty
creates the daily partitions from there on.
The SQL is written out here, not imported from the engine, so this migration stays what it
was when later code changes.
"""

from __future__ import annotations

from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models, transaction

BATCH = 50_000

TABLES = ("durable_step", "durable_attempt", "durable_steplog")

# the indexes and unique constraints of each partitioned table (the partition key belongs
# to every unique one); created after the copy, which is faster than keeping them up to date
INDEXES = {
    "durable_step": [
        "ALTER TABLE durable_step ADD CONSTRAINT durable_step_pkey"
        " PRIMARY KEY (id, run_created_at)",
        "ALTER TABLE durable_step ADD CONSTRAINT step_run_position_uniq"
        " UNIQUE (run_id, position, run_created_at)",
        "CREATE INDEX step_failed_idx ON durable_step (finished_at) WHERE status = 'ERROR'",
        "CREATE INDEX step_finished_idx ON durable_step (finished_at)"
        " INCLUDE (name, duration_ms)",
    ],
    "durable_attempt": [
        "ALTER TABLE durable_attempt ADD CONSTRAINT durable_attempt_pkey"
        " PRIMARY KEY (id, run_created_at)",
        "CREATE INDEX attempt_run_idx ON durable_attempt (run_id, position, attempt)",
        "CREATE INDEX attempt_final_idx ON durable_attempt (finished_at) WHERE final",
    ],
    "durable_steplog": [
        "ALTER TABLE durable_steplog ADD CONSTRAINT durable_steplog_pkey"
        " PRIMARY KEY (id, run_created_at)",
        "CREATE INDEX steplog_run_idx ON durable_steplog (run_id, position, attempt, id)",
        "CREATE INDEX steplog_message_trgm ON durable_steplog USING gin"
        " ((UPPER((jsonb_path_query_array(records, '$[*].message'::jsonpath))::text))"
        " gin_trgm_ops)",
    ],
}

# the indexes of the unpartitioned tables, for going back
PLAIN_INDEXES = {
    "durable_step": [
        "ALTER TABLE durable_step ADD CONSTRAINT step_run_position_uniq"
        " UNIQUE (run_id, position)",
        "CREATE INDEX step_failed_idx ON durable_step (finished_at) WHERE status = 'ERROR'",
        "CREATE INDEX step_finished_idx ON durable_step (finished_at)"
        " INCLUDE (name, duration_ms)",
    ],
    "durable_attempt": [
        "CREATE INDEX attempt_run_idx ON durable_attempt (run_id, position, attempt)",
        "CREATE INDEX attempt_final_idx ON durable_attempt (finished_at) WHERE final",
    ],
    "durable_steplog": [
        "CREATE INDEX steplog_run_idx ON durable_steplog (run_id, position, attempt, id)",
        "CREATE INDEX steplog_message_trgm ON durable_steplog USING gin"
        " ((UPPER((jsonb_path_query_array(records, '$[*].message'::jsonpath))::text))"
        " gin_trgm_ops)",
    ],
}


TOMORROW = "SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 day'"


def _aside(table: str) -> str:
    return f"{table}_unpartitioned"


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return cursor.fetchone()[0]


def _columns(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _set_aside(cursor, table: str, tomorrow) -> None:
    """Rename the plain table aside and create the partitioned one in its place."""
    aside = _aside(table)
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cursor.fetchone()[0]
    cursor.execute(f"ALTER TABLE {table} RENAME TO {aside}")
    if sequence:  # an identity (or serial) sequence: its name goes to the new table's
        cursor.execute(f"ALTER TABLE {aside} ALTER COLUMN id DROP IDENTITY IF EXISTS")
        cursor.execute(f"ALTER TABLE {aside} ALTER COLUMN id DROP DEFAULT")
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {aside} INCLUDING DEFAULTS INCLUDING CONSTRAINTS,"
        " run_created_at timestamptz NOT NULL) PARTITION BY RANGE (run_created_at)"
    )
    cursor.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    cursor.execute("SELECT EXISTS (SELECT 1 FROM durable_run)")
    if cursor.fetchone()[0]:  # an installation with history: one partition for all of it
        cursor.execute(
            f"CREATE TABLE {table}_pmin PARTITION OF {table}"
            " FOR VALUES FROM (MINVALUE) TO (%s)",
            [tomorrow],
        )
    else:  # a new one: today's (the executors' duty makes the next ones)
        today = tomorrow - timedelta(days=1)
        cursor.execute(
            f"CREATE TABLE {table}_p{today:%Y%m%d} PARTITION OF {table}"
            " FOR VALUES FROM (%s) TO (%s)",
            [today, tomorrow],
        )


def _copy_batches(cursor, table: str) -> None:
    """Copy the rows across, BATCH ids at a time, each batch committed on its own."""
    aside = _aside(table)
    columns = ", ".join(f"o.{name}" for name in _columns(cursor, aside))
    cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")  # resumes after a stop
    done = cursor.fetchone()[0]
    cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {aside}")
    last = cursor.fetchone()[0]
    while done < last:
        with transaction.atomic(using=cursor.db.alias):
            cursor.execute(
                f"INSERT INTO {table} ({columns.replace('o.', '')}, run_created_at)"
                f" SELECT {columns}, r.created_at FROM {aside} o"
                " JOIN durable_run r ON r.id = o.run_id"
                " WHERE o.id > %s AND o.id <= %s",
                [done, done + BATCH],
            )
        done += BATCH


def _finish(cursor, table: str) -> None:
    """Drop the plain table; give the partitioned one its id sequence and indexes."""
    cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")
    top = cursor.fetchone()[0]
    cursor.execute(f"DROP TABLE {_aside(table)}")
    cursor.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
    cursor.execute(f"SELECT setval('{table}_id_seq', %s, %s)", [max(top, 1), top > 0])
    cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
    for statement in INDEXES[table]:
        cursor.execute(statement)


def partition(apps, schema_editor) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(TOMORROW)
        tomorrow = cursor.fetchone()[0]  # one bound for every table
        for table in TABLES:
            if not _exists(cursor, _aside(table)):
                cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [table])
                if cursor.fetchone()[0] == "p":
                    continue  # done before
                with transaction.atomic(using=connection.alias):
                    _set_aside(cursor, table, tomorrow)
            _copy_batches(cursor, table)
            with transaction.atomic(using=connection.alias):
                _finish(cursor, table)


def unpartition(apps, schema_editor) -> None:
    """Back to plain tables (one transaction per table: for development, not production)."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table in TABLES:
            with transaction.atomic(using=connection.alias):
                aside = f"{table}_partitioned"
                cursor.execute(f"ALTER TABLE {table} RENAME TO {aside}")
                cursor.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
                cursor.execute(f"ALTER SEQUENCE {table}_id_seq RENAME TO {table}_id_seq_aside")
                columns = [name for name in _columns(cursor, aside) if name != "run_created_at"]
                cursor.execute(
                    f"CREATE TABLE {table} (LIKE {aside} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                )
                cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
                cursor.execute(f"ALTER TABLE {table} DROP COLUMN run_created_at")
                listed = ", ".join(columns)
                cursor.execute(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {aside}")
                cursor.execute(f"DROP TABLE {aside} CASCADE")
                cursor.execute(f"DROP SEQUENCE {table}_id_seq_aside")
                cursor.execute(
                    f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"
                )
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" COALESCE((SELECT max(id) FROM {table}), 1),"
                    f" (SELECT count(*) > 0 FROM {table}))"
                )
                cursor.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
                if table != "durable_step":  # 0033 dropped the checkpoints' constraint
                    cursor.execute(
                        f"ALTER TABLE {table} ADD CONSTRAINT {table}_run_id_fk"
                        " FOREIGN KEY (run_id) REFERENCES durable_run (id)"
                        " DEFERRABLE INITIALLY DEFERRED"
                    )
                for statement in PLAIN_INDEXES[table]:
                    cursor.execute(statement)


def _run_link(related_name: str) -> models.ForeignKey:
    return models.ForeignKey(
        db_constraint=False,
        db_index=False,
        on_delete=django.db.models.deletion.CASCADE,
        related_name=related_name,
        to="durable.run",
    )


class Migration(migrations.Migration):
    atomic = False  # the copy commits batch by batch

    dependencies = [
        ("durable", "0033_step_run_without_fk_check"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(partition, unpartition, atomic=False)],
            state_operations=[
                migrations.RemoveConstraint(model_name="step", name="step_run_position_uniq"),
                *[
                    migrations.AddField(
                        model_name=model,
                        name="run_created_at",
                        field=models.DateTimeField(default=None),
                        preserve_default=False,
                    )
                    for model in ("attempt", "step", "steplog")
                ],
                migrations.AlterField(
                    model_name="attempt", name="run", field=_run_link("attempts")
                ),
                migrations.AlterField(
                    model_name="steplog", name="run", field=_run_link("step_logs")
                ),
                migrations.AddConstraint(
                    model_name="step",
                    constraint=models.UniqueConstraint(
                        fields=("run", "position", "run_created_at"),
                        name="step_run_position_uniq",
                    ),
                ),
            ],
        ),
    ]
