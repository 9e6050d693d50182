"""The quick fault campaign (CI): database blips, SIGKILLs and a broker restart on private
servers; nothing is lost or duplicated and a blip costs no recovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.engine.processes import PROJECT_DIR

pytestmark = pytest.mark.slow


def test_the_quick_campaign_loses_nothing_and_spends_no_recovery_on_blips(tmp_path):
    figures_path = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults.campaign", "--quick", "--json", str(figures_path)],
        cwd=PROJECT_DIR, env=os.environ, capture_output=True, timeout=280,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    figures = json.loads(figures_path.read_text())
    assert figures["worker_sigkills"] >= 6 and figures["postgres_restarts"] >= 2, figures
    assert figures["lost_runs"] == 0, figures
    assert figures["duplicated_effects"] == 0 and figures["missing_effects"] == 0, figures
    assert figures["recoveries_on_db_blips"] == 0, figures
    assert figures["start_errors"] == 0, figures
    assert figures["outage_extra_latency_p99"] is None or figures["outage_extra_latency_p99"] < 5
