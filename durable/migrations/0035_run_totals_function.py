"""`durable_run_totals(run_id, created, inherited)`: a run's history count and active time,
read from its one partition, for the statement that ends the run (store.FINISH_RUN).

Written inline in that statement, the sums named the partition by the run row's own
created_at, known only while the statement runs: PostgreSQL then sets up a scan of every
partition (three sums, 30+ daily partitions each) to skip all but one, which cost each run's
end 0.3 ms at a month's partitions. Inside a function the creation time is a parameter of the
function's own cached plan, generic by its SET clause, so the other partitions are pruned
before the scans are set up. The sums are store._durations.ACTIVE_MS_SQL's (the SQL is
written out here, so this migration stays what it was when later code changes; a test holds
the two equal).
"""

from __future__ import annotations

from django.db import migrations

CREATE = """
CREATE FUNCTION durable_run_totals(run_id text, created timestamptz, inherited integer)
RETURNS TABLE (steps bigint, active_ms double precision)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    RETURN QUERY SELECT
        (SELECT count(*) FROM durable_step s
         WHERE s.run_id = durable_run_totals.run_id AND s.run_created_at = created),
        (SELECT coalesce(sum(s.duration_ms), 0) FROM durable_step s
         WHERE s.run_id = durable_run_totals.run_id AND s.run_created_at = created
           AND s.status = 'SUCCESS' AND s.kind IN ('step', 'transaction')
           AND s.position >= inherited)
        + (SELECT coalesce(sum(extract(epoch FROM a.finished_at - a.started_at) * 1000), 0)
           FROM durable_attempt a
           WHERE a.run_id = durable_run_totals.run_id AND a.run_created_at = created)::float8;
END
$fn$
"""

DROP = "DROP FUNCTION durable_run_totals(text, timestamptz, integer)"


class Migration(migrations.Migration):
    dependencies = [
        ("durable", "0034_partition_history"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
