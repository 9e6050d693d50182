"""Claim cost per queue kind: `python bench/queue_claims.py [--quick] [--runs N] [--json PATH]`.

Starts N runs in the default queue and N in a limited queue (DURABLE_EXECUTOR=external, so
they wait), then times `runtime.claim` for each, one at a time: the plain one-statement
claim, and the claim under the queue's lock that counts its limits. Prints medians and p90
in milliseconds, as JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DURABLE_EXECUTOR"] = "external"

import django  # noqa: E402

django.setup()

import durable  # noqa: E402
from durable.core import _runtime as runtime  # noqa: E402
from durable.models import Run  # noqa: E402

LIMITED = durable.Queue("bench-claims-limited", concurrency=1_000_000, rate_limit=(10**9, 60))


@durable.workflow(name="bench.claims.plain")
def plain() -> None:
    return None


@durable.workflow(name="bench.claims.limited", queue=LIMITED.name)
def limited() -> None:
    return None


def timed_claims(workflow, runs: int) -> list[float]:
    run_ids = [durable.start(workflow).run_id for _ in range(runs)]
    keys = ["bench.claims.plain", "bench.claims.limited"]
    times = []
    for run_id in run_ids:
        began = time.perf_counter()
        assert runtime.claim(run_id, "bench-claims", keys) is not None
        times.append((time.perf_counter() - began) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(ordered), 3),
            "p90_ms": round(ordered[int(len(ordered) * 0.9)], 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="50 runs per queue kind")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.runs = 50
    Run.objects.filter(workflow__startswith="bench.claims.").delete()
    timed_claims(plain, 50)  # warm up: connection, prepared statements
    results = {
        "plain_claim": summary(timed_claims(plain, args.runs)),
        "limited_claim": summary(timed_claims(limited, args.runs)),
    }
    Run.objects.filter(workflow__startswith="bench.claims.").delete()
    if args.json:
        args.json.write_text(json.dumps(results))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
