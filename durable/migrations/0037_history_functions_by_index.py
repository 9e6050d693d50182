"""The history functions (0035, 0036) read a run's rows by index, whatever the statistics.

Their generic plans are cached for the life of the connection that first calls them, an
executor's, which lives for days. A plan made while the statistics said the history was
empty (a fresh database, a vacuum after a purge) sequentially scanned the run's partition:
once that partition held thousands of checkpoints, every run's end read all of them (the
bench's one-step run() went from 2 to 11 ms). They look up one run's rows, for which the
(run, position) index is always the way: sequential scans are off inside them.
"""

from __future__ import annotations

from django.db import migrations

SIGNATURES = [
    "durable_run_totals(text, timestamptz, integer)",
    "durable_run_checkpoints(text, timestamptz)",
    "durable_run_attempts_used(text, timestamptz, jsonb)",
]

BY_INDEX = "".join(f"ALTER FUNCTION {name} SET enable_seqscan = off;\n" for name in SIGNATURES)
AS_BEFORE = "".join(f"ALTER FUNCTION {name} RESET enable_seqscan;\n" for name in SIGNATURES)


class Migration(migrations.Migration):
    dependencies = [
        ("durable", "0036_claimed_history_functions"),
    ]

    operations = [migrations.RunSQL(BY_INDEX, AS_BEFORE)]
