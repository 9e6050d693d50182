"""Seed a database with dashboard-scale history: 1M runs and 10M checkpoints by default.

    DATABASE_URL=postgres://…/durable_dash_bench python bench/seed.py --runs 1000000

Rows are generated inside PostgreSQL (`INSERT … SELECT generate_series`), a chunk per
transaction, so Python never touches a row. Runs span the last 30 days, newest last;
statuses, failures (five error groups), retries and latency tails look like production.
The last 2,000 runs are still ENQUEUED or RUNNING. Never point this at a live database:
it adds `bench-*` runs (`--reset` deletes them first).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

CHUNK = 20_000
ACTIVE_TAIL = 2_000

SEED_CHUNK = """
-- seed_chunk --
-- One chunk of runs (ids bench-lo … bench-hi-1) and every checkpoint of each
WITH params AS (
    SELECT now() - interval '30 days' AS origin,
           interval '30 days' / %(total)s AS spacing
), runs AS (
    INSERT INTO durable_run (
        id, workflow, version, status, input, output, error, error_type, error_fingerprint,
        tags, queue, priority, recovery_count, steps_done, cancel_reason, created_at,
        available_at, started_at, finished_at, updated_at, executor_id)
    SELECT 'bench-' || n, wf, 'v' || (1 + n %% 3), status,
           jsonb_build_object('args', jsonb_build_array(n, 'buyer' || n || '@customer-'
                || (n %% 997) || '.example'), 'kwargs', '{}'::jsonb),
           CASE WHEN status = 'SUCCESS' THEN jsonb_build_object('order_id', n, 'ok', true) END,
           CASE WHEN status IN ('ERROR', 'DEAD') THEN jsonb_build_object(
                'type', err_type, 'message', replace(err_message, '#', n::text),
                'traceback', 'Traceback (most recent call last):\n  File "app.py", line 42\n'
                             || err_type || ': ' || replace(err_message, '#', n::text)) END,
           CASE WHEN status IN ('ERROR', 'DEAD') THEN err_type ELSE '' END,
           CASE WHEN status IN ('ERROR', 'DEAD') THEN md5(err_type || err_message)::varchar(16)
                ELSE '' END,
           jsonb_build_object('customer', 'customer-' || (n %% 997)),
           (ARRAY['default', 'default', 'default', 'emails', 'ml'])[1 + n %% 5], 0,
           CASE WHEN status = 'DEAD' THEN 3 ELSE 0 END,
           steps, CASE WHEN status = 'CANCELLED' THEN 'cancelled by bench' ELSE '' END,
           created, created,
           CASE WHEN status <> 'ENQUEUED' THEN started END,
           CASE WHEN status NOT IN ('ENQUEUED', 'RUNNING') THEN
                started + steps * interval '180 ms' + random() * interval '200 ms' END,
           created,
           CASE WHEN status = 'RUNNING' THEN 'bench:executor' END
    FROM (
        SELECT n, created, created + (random() ^ 3) * interval '5 s' AS started,
               (ARRAY['orders.process_order', 'orders.refund', 'ml.train_model',
                      'emails.send_digest', 'billing.invoice', 'search.reindex'])[1 + n %% 6] AS wf,
               status, err_type, err_message,
               CASE status WHEN 'ENQUEUED' THEN 0
                           WHEN 'RUNNING' THEN %(steps)s / 2
                           WHEN 'CANCELLED' THEN %(steps)s / 2
                           WHEN 'SUCCESS' THEN %(steps)s
                           ELSE 1 + n %% %(steps)s END AS steps
        FROM (
            SELECT n, (SELECT origin FROM params) + n * (SELECT spacing FROM params) AS created,
                   CASE WHEN n >= %(total)s - %(active)s THEN
                             (ARRAY['ENQUEUED', 'RUNNING'])[1 + n %% 2]
                        WHEN n %% 100 < 86 THEN 'SUCCESS'
                        WHEN n %% 100 < 95 THEN 'ERROR'
                        WHEN n %% 100 < 98 THEN 'CANCELLED'
                        ELSE 'DEAD' END AS status,
                   (ARRAY['demo.GatewayTimeout', 'demo.PaymentDeclined', 'demo.OutOfStock',
                          'builtins.ConnectionError', 'demo.DataValidationError'])[1 + n / 7 %% 5]
                       AS err_type,
                   (ARRAY['gateway timed out after # ms', 'card declined for order #',
                          'item # is out of stock', 'SMTP server refused connection #',
                          '# rows have null labels'])[1 + n / 7 %% 5] AS err_message
            FROM generate_series(%(lo)s, %(hi)s - 1) AS n
        ) AS shaped
    ) AS generated
    RETURNING id, status, steps_done, started_at, error, error_type, error_fingerprint,
              created_at
)
INSERT INTO durable_step (
    run_id, position, name, kind, status, input, output, error, error_type,
    error_fingerprint, attempts, started_at, finished_at, duration_ms, run_created_at)
SELECT r.id, p, name, CASE WHEN p %% 4 = 2 THEN 'transaction' ELSE 'step' END,
       CASE WHEN failed THEN 'ERROR' ELSE 'SUCCESS' END,
       jsonb_build_object('args', jsonb_build_array(r.id, p), 'kwargs', '{}'::jsonb),
       CASE WHEN NOT failed THEN jsonb_build_object('step', p, 'ok', true) END,
       CASE WHEN failed THEN r.error END,
       CASE WHEN failed THEN r.error_type ELSE '' END,
       CASE WHEN failed THEN r.error_fingerprint ELSE '' END,
       CASE WHEN failed THEN 3 WHEN p = 1 AND random() < 0.2 THEN 2 ELSE 1 END,
       r.started_at + p * interval '180 ms',
       r.started_at + p * interval '180 ms' + duration * interval '1 ms', duration,
       r.created_at
FROM runs r
CROSS JOIN LATERAL generate_series(0, r.steps_done - 1) AS p
CROSS JOIN LATERAL (
    SELECT (ARRAY['reserve_inventory', 'charge_payment', 'mark_paid', 'send_confirmation',
                  'extract_dataset', 'validate_dataset', 'train_epoch', 'evaluate_model',
                  'publish_model', 'notify'])[1 + p %% 10] AS name,
           r.status IN ('ERROR', 'DEAD') AND p = r.steps_done - 1 AS failed,
           CASE WHEN p %% 10 = 1 THEN 40 + (random() ^ 4) * 4000
                ELSE 5 + random() * 160 END AS duration
) AS shaped
"""

SEED_ATTEMPTS = """
-- seed_attempts --
-- Failed attempts before each retried or failed checkpoint of the chunk
INSERT INTO durable_attempt (run_id, position, attempt, name, error, error_type,
                             started_at, finished_at, run_created_at)
SELECT s.run_id, s.position, a, s.name,
       coalesce(s.error, '{"type": "demo.GatewayTimeout", "message": "gateway timed out"}'),
       coalesce(nullif(s.error_type, ''), 'demo.GatewayTimeout'),
       s.started_at - (s.attempts - a) * interval '400 ms',
       s.started_at - (s.attempts - a) * interval '400 ms' + interval '300 ms',
       s.run_created_at
FROM durable_step s CROSS JOIN LATERAL generate_series(1, s.attempts) AS a
WHERE s.run_id = ANY(%(ids)s) AND s.attempts > 1 AND (a < s.attempts OR s.status = 'ERROR')
"""


def seed(total: int, steps: int, reset: bool) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from bench.progress import Progress

    call_command("migrate", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        if reset:
            print("deleting earlier bench-* runs …", file=sys.stderr)
            cursor.execute("TRUNCATE durable_attempt, durable_step, durable_run CASCADE")
            cursor.execute("TRUNCATE dashboard_latencyrollup, dashboard_rollupcursor")
        cursor.execute("SELECT count(*) FROM durable_run WHERE id LIKE 'bench-%%'")
        if cursor.fetchone()[0]:
            sys.exit("bench runs already exist here; pass --reset to start over")
    from datetime import timedelta

    from durable.core import _clock as clock
    from durable.operations import _partitioning as partitioning

    # the runs span the last 30 days: their history partitions first (not the default one)
    partitioning.create_ahead(since=clock.now() - timedelta(days=31))
    started = time.monotonic()
    with Progress(f"seeding {total:,} runs x ~{steps} steps", total) as bar:
        for lo in range(0, total, CHUNK):
            hi = min(lo + CHUNK, total)
            params = {"lo": lo, "hi": hi, "total": total, "steps": steps, "active": ACTIVE_TAIL}
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(SEED_CHUNK, params)
                ids = [f"bench-{n}" for n in range(lo, hi)]
                cursor.execute(SEED_ATTEMPTS, {"ids": ids})
            bar.advance(hi - lo)
    print(f"rows written in {time.monotonic() - started:.0f}s; VACUUM ANALYZE …", file=sys.stderr)
    with connection.cursor() as cursor:
        for table in ("durable_run", "durable_step", "durable_attempt"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute(
            "SELECT (SELECT count(*) FROM durable_run), (SELECT count(*) FROM durable_step)"
        )
        runs, checkpoints = cursor.fetchone()
    print(
        f"{runs:,} runs, {checkpoints:,} checkpoints in {time.monotonic() - started:.0f}s",
        file=sys.stderr,
    )
    from dashboard import rollups

    print("rolling up hourly latency histograms …", file=sys.stderr)
    hours = rollups.refresh(max_hours=None)
    print(f"{hours} hour(s) rolled up; {time.monotonic() - started:.0f}s in all", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--steps-per-run", type=int, default=11, help="of a successful run")
    parser.add_argument("--reset", action="store_true", help="truncate the run tables first")
    args = parser.parse_args()
    seed(args.runs, args.steps_per_run, args.reset)


if __name__ == "__main__":
    main()
