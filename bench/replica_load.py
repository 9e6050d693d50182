"""Checkpoint cost while the dashboard's heaviest page loops, reading the primary or a replica.

    python bench/replica_load.py [--quick] [--runs N] [--repeat N] [--json PATH]

Starts a private primary (the embedded PostgreSQL, in a temporary folder) with a seeded
history (`bench/seed.py`: 100,000 runs, ~1M checkpoints; 5,000 with `--quick`) and a hot
standby streaming from it (`pg_basebackup -R`; the servers of tests/replica/servers.py).
Times the two heaviest dashboard pages once (latency over 24 h, the bulk preview of ERROR
runs in 24 h) and keeps the slower. Then, in three conditions, interleaved and repeated:

    idle      nothing else runs on the pair
    primary   one dashboard process fetches the page back to back, reading the primary
    replica   the same process with DURABLE_READ_DATABASE_URL naming the standby

it times the INSERT+COMMIT floor (1 connection, raw psycopg) and the per-step cost of a
workflow of no-op steps on the thread executor (`bench/timing.step_overhead`, the suite's
"per no-op step" figure), both on the primary. Prints medians per condition with their ratio
to the idle floor and the idle step, the page loop's pace and the load average; JSON on the
last line (and in `--json`). Its figures are in docs/scaling.md and docs/replica.md.

On one machine a replica only moves the page's SQL to other processes on the same cores.
With two cores or more, the primary's server and this process (the workflow worker whose
steps are timed) are pinned to the first core, the standby and the dashboard process to the
others (`--no-split` leaves every process free): each side stands for a machine of its own.
Other programs on the machine stay free to run anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONDITIONS = ("idle", "primary", "replica")
CANDIDATES = (
    ("latency, 24h", "/latency/?window=24h"),
    ("bulk preview: ERROR in 24h", "/bulk/?action=resume&scope=matching&status=ERROR&window=24h"),
)
SIZES = {
    "full": {"runs": 100_000, "floor": 2000, "step_runs": 20, "steps": 100, "pick": 5},
    "quick": {"runs": 5_000, "floor": 200, "step_runs": 2, "steps": 20, "pick": 1},
}
SETTLE_SECONDS = 1.0  # the page loop runs this long before the timing starts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 runs, one repetition")
    parser.add_argument("--runs", type=int, default=None, help="runs to seed")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument(
        "--no-split",
        action="store_true",
        help="leave the primary, the standby and the dashboard on every core",
    )
    return parser.parse_args(argv)


def cpu_split(wanted: bool) -> dict[str, set[int]] | None:
    """The cores of the primary and the worker, and the others' (standby, dashboard), or None
    to pin nothing."""
    cpus = sorted(os.sched_getaffinity(0))
    if not wanted or len(cpus) < 2:
        return None
    return {"primary": {cpus[0]}, "others": set(cpus[1:])}


def _seed(runs: int, split: dict[str, set[int]] | None) -> Any:
    """Seed the primary, then a checkpoint (the seeding's dirty pages written now, not in the
    first measurement); the standby taken next starts on the other cores."""

    def seed(primary_url: str) -> None:
        env = {**os.environ, "DATABASE_URL": primary_url, "DEBUG": "0"}
        env.pop("DURABLE_READ_DATABASE_URL", None)
        subprocess.run(
            [sys.executable, "bench/seed.py", "--runs", str(runs)], cwd=ROOT, env=env, check=True
        )
        subprocess.run(
            [sys.executable, "-c", "import sys, psycopg; "
             "psycopg.connect(sys.argv[1], autocommit=True).execute('CHECKPOINT')", primary_url],
            check=True,
        )  # fmt: skip
        if split:
            os.sched_setaffinity(0, split["others"])  # inherited by the standby's server

    return seed


def _use_primary(primary_url: str) -> None:
    """This process's Django on the private primary (the engine, the floor, the page pick)."""
    os.environ.update(
        {
            "DATABASE_URL": primary_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "DURABLE_LOG_LEVEL": "WARNING",
            "DURABLE_TEST_DATABASE": "",
        }
    )
    os.environ.pop("DURABLE_READ_DATABASE_URL", None)
    import django

    django.setup()


def pick_page(fetches: int) -> dict[str, Any]:
    """The slower of the candidates by median server time, the dashboard on the primary."""
    from bench.page_loop import _client, _fetch

    client = _client()
    timed = {}
    for label, url in CANDIDATES:
        _fetch(client, url)  # warm-up
        timed[label] = statistics.median(_fetch(client, url) for _ in range(fetches)) * 1000
    label = max(timed, key=lambda name: timed[name])
    print(f"  heaviest page: {label} ({timed[label]:.0f} ms)", file=sys.stderr, flush=True)
    return {"label": label, "url": dict(CANDIDATES)[label], "candidates_ms": timed}


class PageLoop:
    """bench/page_loop.py in its own process, fetching `url` back to back until stopped."""

    def __init__(
        self, url: str, primary_url: str, replica_url: str | None, cpus: set[int] | None
    ) -> None:
        env = {**os.environ, "DATABASE_URL": primary_url, "DURABLE_EXECUTOR": "external"}
        env.pop("DURABLE_READ_DATABASE_URL", None)
        if replica_url:
            env["DURABLE_READ_DATABASE_URL"] = replica_url
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.page_loop", url],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        if cpus:
            os.sched_setaffinity(self.process.pid, cpus)
        self.ready = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the page loop ended ({self.process.wait()})")
        return json.loads(line)

    def stop(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        result = self._read()
        self.process.wait(timeout=60)
        return {**result, "statements": self.ready["statements"]}

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def replica_behind_bytes(pair: Any) -> int:
    """How much of the primary's WAL the standby had not replayed yet, right now."""
    from tests.faults.servers import DATABASE

    with pair.primary.admin(DATABASE) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    with pair.standby.admin() as conn:
        row = conn.execute(
            "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())", [target]
        ).fetchone()
    return max(0, int(row[0]))


def measure(
    condition: str, pair: Any, url: str, sizes: dict[str, int], split: dict[str, set[int]] | None
) -> dict[str, Any]:
    """The floor and the per-step cost on the primary while `condition` holds."""
    import durable
    from bench import floor, timing, workloads

    loop = None
    if condition != "idle":
        replica = pair.standby.url if condition == "replica" else None
        loop = PageLoop(url, pair.primary.url, replica, split and split["others"])
        time.sleep(SETTLE_SECONDS)
    try:
        load = os.getloadavg()
        single = floor.raw_insert(1, sizes["floor"])
        step = timing.step_overhead(
            condition,
            lambda steps, token: durable.run(workloads.many_steps, steps, token),
            workloads.STEP_MARKS,
            sizes["step_runs"],
            sizes["steps"],
        )
        page = loop.stop() if loop else None
    finally:
        if loop:
            loop.kill()
    return {
        "condition": condition,
        "load_1min": load[0],
        "floor_ms": single["median_ms"],
        "step_ms": step["median_ms"],
        "step_p99_ms": step["p99_ms"],
        "page": page,
        "replica_behind_bytes": replica_behind_bytes(pair),
    }


def summarize(repetitions: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per condition over the repetitions, with ratios to the idle figures."""
    by_condition = {
        name: [rep for reps in repetitions for rep in reps if rep["condition"] == name]
        for name in CONDITIONS
    }

    def median(name: str, key: str) -> float:
        return statistics.median(rep[key] for rep in by_condition[name])

    idle_floor, idle_step = median("idle", "floor_ms"), median("idle", "step_ms")
    summary = {}
    for name, reps in by_condition.items():
        pages = [rep["page"] for rep in reps if rep["page"]]
        summary[name] = {
            "floor_ms": round(median(name, "floor_ms"), 3),
            "step_ms": round(median(name, "step_ms"), 3),
            "step_p99_ms": round(median(name, "step_p99_ms"), 3),
            "step_over_idle_floor": round(median(name, "step_ms") / idle_floor, 2),
            "step_over_idle_step": round(median(name, "step_ms") / idle_step, 2),
            "load_1min": round(median(name, "load_1min"), 2),
            "load_range": [min(r["load_1min"] for r in reps), max(r["load_1min"] for r in reps)],
            "page_median_ms": statistics.median(p["median_ms"] for p in pages) if pages else None,
            "pages_per_s": (
                round(statistics.median(p["fetches"] / p["seconds"] for p in pages), 2)
                if pages
                else None
            ),
            "page_statements": pages[0]["statements"] if pages else None,
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    sizes = dict(SIZES[mode])
    if args.runs:
        sizes["runs"] = args.runs
    repeat = args.repeat or (1 if args.quick else 3)
    # production's DEBUG=0 (no query log) in this process and its children; the private,
    # throw-away servers need no real key
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    from tests.replica.servers import Pair

    split = cpu_split(not args.no_split)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="durable-replica-bench-") as folder:
        os.chmod(folder, 0o755)  # the servers run as their own system user
        print(f"  … primary + standby, {sizes['runs']:,} runs seeded", file=sys.stderr, flush=True)
        if split:
            os.sched_setaffinity(0, split["primary"])  # inherited by the primary's server
        with Pair(Path(folder), before_standby=_seed(sizes["runs"], split)) as pair:
            if split:  # the worker with its primary; executor threads inherit it
                os.sched_setaffinity(0, split["primary"])
            _use_primary(pair.primary.url)
            from bench import durable_side, floor
            from durable import executors

            try:
                floor.prepare()
                durable_side.cleanup()
                durable_side.warm_up()
                page = pick_page(sizes["pick"])
                repetitions = []
                for index in range(repeat):
                    print(f"repetition {index + 1}/{repeat}", file=sys.stderr, flush=True)
                    repetitions.append(
                        [measure(name, pair, page["url"], sizes, split) for name in CONDITIONS]
                    )
                checkpoints = _checkpoints()
            finally:
                executors.shutdown()
                from django.db import connections

                connections.close_all()
    result = {
        "runs": sizes["runs"],
        "checkpoints": checkpoints,
        "repeat": repeat,
        "sizes": sizes,
        "cpus": {key: sorted(value) for key, value in split.items()} if split else None,
        "page": page,
        "conditions": summarize(repetitions),
        "repetitions": repetitions,
        "seconds": round(time.monotonic() - started),
    }
    from bench import report

    print("\n".join(report.replica_table(result)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


def _checkpoints() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM durable_step WHERE run_id LIKE 'bench-%%'")
        return int(cursor.fetchone()[0])


if __name__ == "__main__":
    sys.exit(main())
