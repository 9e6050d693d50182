"""Drop the `varchar_pattern_ops` index Django made beside `durable_run`'s primary key.

Django adds one to every `CharField` key for `LIKE 'prefix%'` searches. No query searches run
ids by prefix (the dashboard and the admin look ids up exactly, by the primary key), yet
every run's insert and every status change that is not a HOT update (its claim, its finish)
wrote an entry into it: one of the run row's 23 indexes, each a few microseconds of every
short run's server time (docs/performance.md). Reversible: the same index comes back.
"""

from __future__ import annotations

from django.db import migrations

INDEX = "durable_run_id_54e4a15f_like"


class Migration(migrations.Migration):
    dependencies = [
        ("durable", "0039_recovery_and_wake_history_functions"),
    ]

    operations = [
        migrations.RunSQL(
            f"DROP INDEX IF EXISTS {INDEX}",
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON durable_run (id varchar_pattern_ops)",
        )
    ]
