"""`durable_run_checkpoints(run_id, created)` and `durable_run_attempts_used(run_id, created,
lost)`: the history a claim loads (store.CLAIMED_HISTORY), read from the run's one partition.

The same reason as 0035's `durable_run_totals`: written inline in the claim, the history was
found by the claimed row's own created_at, known only while the statement runs, so every
daily partition's scans were set up to skip all but one (a claim cost 2.0 ms at a month's
partitions, 1.4 ms this way). The SQL is CLAIMED_HISTORY's as it was, written out here.
"""

from __future__ import annotations

from django.db import migrations

CHECKPOINTS = """
CREATE FUNCTION durable_run_checkpoints(run_id text, created timestamptz)
RETURNS json
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    RETURN (SELECT COALESCE(json_agg(json_build_array(
                       s.position, s.name, s.kind, s.status, s.output, s.error, s.input_hash)
                       ORDER BY s.position), '[]'::json)
            FROM durable_step s
            WHERE s.run_id = durable_run_checkpoints.run_id AND s.run_created_at = created);
END
$fn$
"""

ATTEMPTS_USED = """
CREATE FUNCTION durable_run_attempts_used(run_id text, created timestamptz, lost jsonb)
RETURNS json
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    RETURN (SELECT COALESCE(json_object_agg(u.position, u.used), '{}'::json) FROM (
                SELECT tried.position,
                       json_build_array(max(tried.attempt), sum(tried.deaths)) AS used
                FROM (SELECT a.position, a.attempt, 0 AS deaths FROM durable_attempt a
                      WHERE a.run_id = durable_run_attempts_used.run_id
                        AND a.run_created_at = created
                      UNION ALL
                      SELECT l.key::int, (l.value ->> 0)::int, (l.value ->> 1)::int
                      FROM jsonb_each(lost) l) tried
                WHERE NOT EXISTS (SELECT 1 FROM durable_step s
                                  WHERE s.run_id = durable_run_attempts_used.run_id
                                    AND s.run_created_at = created
                                    AND s.position = tried.position)
                GROUP BY tried.position) u);
END
$fn$
"""


class Migration(migrations.Migration):
    dependencies = [
        ("durable", "0035_run_totals_function"),
    ]

    operations = [
        migrations.RunSQL(CHECKPOINTS, "DROP FUNCTION durable_run_checkpoints(text, timestamptz)"),
        migrations.RunSQL(
            ATTEMPTS_USED, "DROP FUNCTION durable_run_attempts_used(text, timestamptz, jsonb)"
        ),
    ]
