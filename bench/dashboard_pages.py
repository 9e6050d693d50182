"""Server time of every dashboard page and partial on a large history (1M runs by default).

    DATABASE_URL=postgres://…/durable_dash_bench python bench/dashboard_pages.py
    python bench/dashboard_pages.py --quick --json out.json      # CI smoke: 20k runs

Seeds with `bench/seed.py` first when the database has no bench runs. Each page is fetched
through Django's test client in this process (middleware, queries, templates: the server's
share of a request), once to warm up, then `--repeat` times; p50 and p95 are printed with
the ratio of p95 to the page's budget (150 ms for pages, 500 ms for aggregations).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "0")

PAGE_MS = 150
AGGREGATE_MS = 500


def pages(failed_run: str, deep_cursor: str, sample: int) -> list[tuple[str, str, int, bool]]:
    """(label, url, budget in ms, sent as an htmx request)."""
    return [
        ("runs: page 1", "/", PAGE_MS, False),
        ("runs: live refresh partial", "/", PAGE_MS, True),
        ("runs: page ~1000 (keyset)", f"/?cursor={deep_cursor}", PAGE_MS, False),
        ("runs: status=ERROR", "/?status=ERROR", PAGE_MS, False),
        ("runs: status=DEAD + workflow", "/?status=DEAD&workflow=ml.train_model", PAGE_MS, False),
        ("runs: error type", "/?error_type=demo.OutOfStock", PAGE_MS, False),
        ("runs: tag customer=customer-5", "/?tag=customer%3Dcustomer-5", PAGE_MS, False),
        ("runs: last 24h", "/?window=24h", PAGE_MS, False),
        ("runs: queue=emails", "/?queue=emails", PAGE_MS, False),
        ("runs: oldest first", "/?sort=oldest", PAGE_MS, False),
        ("runs: search run id", f"/?q=bench-{sample}", PAGE_MS, False),
        ("runs: search input text", f"/?q=buyer{sample}%40", PAGE_MS, False),
        ("run detail (failed, retries)", f"/runs/{failed_run}/", PAGE_MS, False),
        ("run detail live partial", f"/runs/{failed_run}/", PAGE_MS, True),
        ("workers + queues", "/workers/", PAGE_MS, False),
        ("admin: runs changelist", "/admin/durable/run/", PAGE_MS, False),
        ("admin: ERROR runs changelist", "/admin/durable/run/?status__exact=ERROR", PAGE_MS, False),
        ("audit log", "/audit/", PAGE_MS, False),
        ("latency, 24h", "/latency/?window=24h", AGGREGATE_MS, False),
        ("latency, 7d", "/latency/?window=7d", AGGREGATE_MS, False),
        ("failures, 24h", "/failures/?window=24h", AGGREGATE_MS, False),
        ("failures, 7d", "/failures/?window=7d", AGGREGATE_MS, False),
        (
            "bulk preview: ERROR in 24h",
            "/bulk/?action=resume&scope=matching&status=ERROR&window=24h",
            AGGREGATE_MS,
            False,
        ),
    ]


def _fixtures() -> tuple[str, str, int, int, int]:
    """A failed run with retries, a cursor 50,000 runs deep, a sample id, and the scale."""
    from django.db import connection

    from dashboard.queries.runs import Cursor

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM durable_run")
        runs = cursor.fetchone()[0]
        cursor.execute(  # the checkpoint table is partitioned: its partitions hold the rows
            "SELECT sum(c.reltuples)::bigint FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'durable_step'::regclass"
        )
        checkpoints = cursor.fetchone()[0]
        cursor.execute(
            "SELECT run_id FROM durable_step WHERE status = 'ERROR' AND attempts > 1 "
            "ORDER BY finished_at DESC LIMIT 1"
        )
        failed = cursor.fetchone()[0]
        cursor.execute(
            "SELECT created_at, id FROM durable_run ORDER BY created_at DESC, id DESC "
            "OFFSET %s LIMIT 1",
            [min(50_000, runs - 1)],
        )
        created, run_id = cursor.fetchone()
    return failed, Cursor(created, run_id).encode(), runs // 3, runs, checkpoints


def time_pages(repeat: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.test import Client

    from bench.stats import percentile

    user, _ = User.objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    failed, cursor, sample, runs, checkpoints = _fixtures()
    results = []
    for label, url, budget, htmx in pages(failed, cursor, sample):
        headers = {"HX-Request": "true"} if htmx else {}
        samples = []
        for index in range(repeat + 1):
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (url, response.status_code)
            if index:
                samples.append(elapsed)
        p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
        results.append(
            {
                "page": label,
                "url": url,
                "p50_ms": round(p50, 1),
                "p95_ms": round(p95, 1),
                "budget_ms": budget,
                "p95_over_budget": round(p95 / budget, 2),
            }
        )
        print(
            f"  {label:<32} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   "
            f"p95/budget {p95 / budget:4.2f} ({budget} ms)",
            flush=True,
        )
    return {"runs": runs, "checkpoints": checkpoints, "repeat": repeat, "pages": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k runs, 3 repetitions")
    parser.add_argument("--runs", type=int, default=None, help="runs to seed if none exist")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench import seed

    call_command("migrate", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM durable_run WHERE id LIKE 'bench-%%')")
        seeded = cursor.fetchone()[0]
    if not seeded:
        seed.seed(args.runs or (20_000 if args.quick else 1_000_000), 11, reset=False)
    repeat = args.repeat or (3 if args.quick else 20)
    result = time_pages(repeat)
    print(f"scale: {result['runs']:,} runs, ~{result['checkpoints']:,} checkpoints")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
