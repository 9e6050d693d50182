"""Two more history functions that read one run's rows from its one partition:
- `durable_run_lost_attempts(run_id, created, lost)`: the attempt a death cut short, added
  to the run's map of lost attempts, for the statement that recovers a dead owner's runs
  (store.RECOVERED);
- `durable_run_entry_name(run_id, created, position)`: the name of a run's entry, for the
  statement every sent message runs to wake a receiver parked in recv (store.WAKE_RECEIVER).

Written inline, those lookups named the partition by the run row's own created_at, known
only while the statement runs: PostgreSQL planned a scan of every daily partition at every
recovery and every sent message, then skipped all but one. At 69 partitions (no retention
set keeps one a day) that was 13-33 ms of planning per recovery and 10 ms per message. Here
the creation time is a parameter of the function's own cached generic plan, so the other
partitions are pruned before any scan is set up; sequential scans are off inside them, as
in the other history functions (0037). The SQL is those statements' as they were, written
out here.
"""

from __future__ import annotations

from django.db import migrations

CREATE = """
CREATE FUNCTION durable_run_lost_attempts(run_id text, created timestamptz, lost jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $fn$
BEGIN
    -- the first position without a checkpoint takes the next attempt number there, and one
    -- more death, so the step run again gets the attempt after it
    RETURN lost || (
        SELECT jsonb_build_object(f.position::text, jsonb_build_array(
            GREATEST((SELECT max(a.attempt) FROM durable_attempt a
                      WHERE a.run_id = durable_run_lost_attempts.run_id
                        AND a.run_created_at = created AND a.position = f.position),
                     (lost -> f.position::text ->> 0)::int, 0) + 1,
            COALESCE((lost -> f.position::text ->> 1)::int, 0) + 1))
        FROM (SELECT min(g) AS position
              FROM generate_series(0, (SELECT count(*) FROM durable_step s
                                       WHERE s.run_id = durable_run_lost_attempts.run_id
                                         AND s.run_created_at = created)::int) g
              WHERE NOT EXISTS (SELECT 1 FROM durable_step s
                                WHERE s.run_id = durable_run_lost_attempts.run_id
                                  AND s.run_created_at = created AND s.position = g)) f);
END
$fn$
"""

ENTRY_NAME = """
CREATE FUNCTION durable_run_entry_name(run_id text, created timestamptz, entry integer)
RETURNS text
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $fn$
BEGIN
    RETURN (SELECT s.name FROM durable_step s
            WHERE s.run_id = durable_run_entry_name.run_id AND s.run_created_at = created
              AND s.position = entry);
END
$fn$
"""

DROP = "DROP FUNCTION durable_run_lost_attempts(text, timestamptz, jsonb)"
DROP_ENTRY_NAME = "DROP FUNCTION durable_run_entry_name(text, timestamptz, integer)"


class Migration(migrations.Migration):
    dependencies = [
        ("durable", "0038_checks_as_one_array"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP), migrations.RunSQL(ENTRY_NAME, DROP_ENTRY_NAME)]
