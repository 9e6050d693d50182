"""Durable's benchmark suite: `python bench/run.py` (full) or `python bench/run.py --quick`.

Measures PostgreSQL's INSERT+COMMIT floor, Durable's per-step overhead, workflow
throughput and start latency, the same workloads on DBOS (when the `bench` extra is
installed), Celery throughput, dashboard pages at scale and the checkpoint cost with the
dashboard on a replica (when their scripts exist).
Prints a table of ratios and writes every figure to bench/results/<time>-<mode>.json.
The database is Django's (`DATABASE_URL`, else the embedded server); see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
SECTIONS = ("floor", "durable", "dbos", "celery", "queues", "scale", "replica")

SIZES = {
    "full": {
        "single": 5000,
        "per_connection": 600,
        "step_runs": 30,
        "steps": 100,
        "workflows": 800,
        "starts": 300,
        "runs": 300,
        "transaction_runs": 200,
        "history_runs": 20_000,
        "beside_single": 1000,
        "beside_per_connection": 200,
    },
    "quick": {
        "single": 200,
        "per_connection": 25,
        "step_runs": 2,
        "steps": 20,
        "workflows": 40,
        "starts": 10,
        "runs": 10,
        "transaction_runs": 0,
        "history_runs": 1_000,
        "beside_single": 100,
        "beside_per_connection": 20,
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, one repetition: proves the suite runs (CI)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="repetitions of floor/Durable/DBOS, reported as medians "
        "(default 3, or 1 with --quick)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=SECTIONS,
        default=[],
        help="leave a section out (repeatable)",
    )
    parser.add_argument(
        "--dbos-database",
        default="dbos_bench",
        help="database DBOS uses on the same server (created if missing)",
    )
    parser.add_argument(
        "--scale-database",
        default=None,
        help="database for the dashboard's seeded history (default: <database>_scale, "
        "or <database>_scale_quick with --quick)",
    )
    parser.add_argument(
        "--dbos-python",
        default=None,
        help="interpreter with `dbos` installed (default: this one, else .venv-bench/bin/python)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for JSON results")
    return parser.parse_args(argv)


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DURABLE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DEBUG", "0")  # production's setting: no query log on the hot path
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        name = connection.settings_dict["NAME"]
        print(f"applying {len(plan)} migration(s) to {name}", file=sys.stderr)
        call_command("migrate", verbosity=0)


def machine() -> dict[str, Any]:
    from bench import db
    from durable.core.conf import settings

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal")
        ),
        "",
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "git_commit": commit,
        "django_debug": settings.DEBUG,
        "durable_threads": settings.DURABLE_THREADS,
        "postgres": db.server_facts(),
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def dbos_python(args: argparse.Namespace) -> str | None:
    candidates = (
        [args.dbos_python]
        if args.dbos_python
        else [sys.executable, str(ROOT / ".venv-bench" / "bin" / "python")]
    )
    for python in candidates:
        if (
            Path(python).exists()
            and subprocess.run([python, "-c", "import dbos"], capture_output=True).returncode == 0
        ):
            return python
    return None


def run_dbos(python: str, database: str, sizes: dict[str, int]) -> dict[str, Any]:
    from bench import db

    db.ensure_database(database)
    done = subprocess.run(
        [
            python,
            "-m",
            "bench.dbos_side",
            "--database-url",
            db.sqlalchemy_url(database),
            "--sizes",
            json.dumps(sizes),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"DBOS side failed with exit code {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_repetition(
    args: argparse.Namespace, sizes: dict[str, int], python: str | None
) -> dict[str, Any]:
    from bench import durable_side, floor

    load_before = os.getloadavg()
    result: dict[str, Any] = {}
    if "floor" not in args.skip:
        result["floor"] = floor.measure(sizes["single"], sizes["per_connection"])
    if "durable" not in args.skip:
        result["durable"] = durable_side.measure(sizes)
    if python is not None:
        result["dbos"] = run_dbos(python, args.dbos_database, sizes)
    result["load"] = {"before": load_before, "after": os.getloadavg()}
    return result


def median_of(reps: list[Any]) -> Any:
    """The element-wise median of repetitions with the same shape (numbers only)."""
    first = reps[0]
    if isinstance(first, dict):
        return {key: median_of([rep[key] for rep in reps if key in rep]) for key in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        return statistics.median(reps)
    return first


def run_external(args: argparse.Namespace) -> dict[str, Any]:
    from bench.external import run_script

    timeout = 120 if args.quick else 3600
    results: dict[str, Any] = {}
    if "celery" not in args.skip:
        results["celery"] = {
            str(workers): run_script(
                "celery_throughput.py", quick=args.quick, timeout=timeout, workers=workers
            )
            for workers in (1, 2)
        }
    if "queues" not in args.skip:
        results["queues"] = run_script("queue_claims.py", quick=args.quick, timeout=timeout)
    if "scale" not in args.skip:
        results["scale"] = run_script(
            "dashboard_pages.py", quick=args.quick, timeout=timeout, env=scale_env(args)
        )
    if "replica" not in args.skip:  # its own private primary and standby, seeded each time
        results["replica"] = run_script("replica_load.py", quick=args.quick, timeout=timeout)
    return results


def scale_env(args: argparse.Namespace) -> dict[str, str]:
    """The dashboard's seeded history lives in its own database: seeded once, kept between
    runs, and never in the tables the engine's figures are measured on."""
    from django.db import connection

    from bench import db

    suffix = "_scale_quick" if args.quick else "_scale"
    name = args.scale_database or connection.settings_dict["NAME"] + suffix
    db.ensure_database(name)
    return {"DATABASE_URL": db.django_url(name)}


def render(results: dict[str, Any]) -> str:
    from bench import report

    rows: list[report.Row] = []
    floor, ours, dbos = results.get("floor"), results.get("durable"), results.get("dbos")
    if floor:
        rows += report.floor_rows(floor)
    if floor and ours:
        rows += report.step_rows(ours, dbos, floor)
        rows += report.throughput_rows(ours, dbos, floor)
        celery = results.get("external", {}).get("celery", {})
        if any(result.get("status") == "ok" for result in celery.values()):
            rows += report.celery_rows(celery, floor)
        rows += report.run_rows(ours, dbos, floor)
        rows += report.latency_rows(ours, dbos)
    lines = [_describe(results), "", report.format_table(rows), ""]
    if floor and ours:
        lines += report.headline(results)
    if results.get("dbos_skipped"):
        lines.append(f"dbos: skipped: {results['dbos_skipped']}")
    return "\n".join(lines + _external_lines(results.get("external", {})))


def _external_lines(external: dict[str, Any]) -> list[str]:
    """The optional scripts' sections, after the main table."""
    from bench import report

    lines = []
    for name, result in external.get("celery", {}).items():
        if result.get("status") != "ok":
            lines += report.external_lines(f"celery ({name} worker(s))", result)
    if "queues" in external:
        lines += report.external_lines("queue claims (ms)", external["queues"])
    if "scale" in external:
        lines += report.scale_lines(external["scale"])
    if "replica" in external:
        lines += report.replica_lines(external["replica"])
    return lines


def _describe(results: dict[str, Any]) -> str:
    info = results["machine"]
    pg = info["postgres"]
    loads = "; ".join(
        "{:.2f} {:.2f} {:.2f}".format(*rep["load"]["before"]) for rep in results["repetitions"]
    )
    return (
        f"Durable bench ({results['mode']}, {len(results['repetitions'])} repetition(s), "
        f"medians shown) {results['started_at']} git {info['git_commit']}\n"
        f"machine: {info['cpus']} x {info['cpu']}, {info['memory']}, Python "
        f"{info['python']}; PostgreSQL {pg['server_version']} fsync={pg['fsync']} "
        f"synchronous_commit={pg['synchronous_commit']}; DEBUG={info['django_debug']}, "
        f"DURABLE_THREADS={info['durable_threads']}\n"
        f"load average (1/5/15 min) before each repetition: {loads}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    sizes = SIZES[mode]
    repeat = args.repeat or (1 if args.quick else 3)
    setup_django()
    python = None if "dbos" in args.skip else dbos_python(args)
    results: dict[str, Any] = {
        "mode": mode,
        "sizes": sizes,
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "machine": machine(),
        "repetitions": [],
    }
    if python is None and "dbos" not in args.skip:
        results["dbos_skipped"] = "dbos is not installed: pip install -e '.[bench]'"
    started = time.monotonic()
    for index in range(repeat):
        print(f"repetition {index + 1}/{repeat}", file=sys.stderr, flush=True)
        results["repetitions"].append(one_repetition(args, sizes, python))
    results.update(
        {
            key: median_of([rep[key] for rep in results["repetitions"]])
            for key in ("floor", "durable", "dbos")
            if key in results["repetitions"][0]
        }
    )
    results["external"] = run_external(args)
    results["seconds"] = time.monotonic() - started
    from durable import executors

    executors.shutdown()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{mode}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(render(results))
    print(f"\nresults: {path} ({results['seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
