"""bench/replica_load.py runs end to end in --quick mode: a private primary and standby, the
three conditions, and a dashboard loop that really reads the standby in the third."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_replica_load_prints_the_three_conditions(tmp_path):
    result_file = tmp_path / "replica.json"
    done = subprocess.run(
        [sys.executable, "bench/replica_load.py", "--quick", "--json", str(result_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout.split("replica: checkpoint cost while", 1)[1].splitlines()
    for condition, reader in (
        ("idle", "no dashboard"),
        ("primary", "reads primary"),
        ("replica", "reads replica"),
    ):
        rows = [line for line in table if line.startswith(condition) and reader in line]
        assert len(rows) == 1, table
    results = json.loads(result_file.read_text())
    conditions = results["conditions"]
    assert set(conditions) == {"idle", "primary", "replica"}
    for figures in conditions.values():
        assert figures["floor_ms"] > 0 and figures["step_ms"] > 0
    assert conditions["idle"]["step_over_idle_step"] == 1.0
    assert conditions["primary"]["pages_per_s"] > 0 and conditions["replica"]["pages_per_s"] > 0
    # where the looping page read its Durable and dashboard tables from
    assert conditions["primary"]["page_statements"].get("replica", 0) == 0
    on_replica = conditions["replica"]["page_statements"]
    assert on_replica["replica"] > on_replica.get("default", 0), on_replica
    assert results["page"]["label"] in {"latency, 24h", "bulk preview: ERROR in 24h"}
