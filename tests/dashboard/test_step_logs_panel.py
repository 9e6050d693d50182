"""The run page shows each step's kept log lines per attempt, and a link to the team's
log system when DURABLE_LOGS_URL_TEMPLATE is set."""

from __future__ import annotations

import pytest

import durable
from durable.models import StepLog
from tests.dashboard.conftest import HOSTILE, make_run, make_step
from tests.engine.test_step_logs import order


def record(message: str, level: str = "INFO") -> dict:
    return {"at": "2026-12-06T19:00:00.123456+00:00", "level": level, "logger": "shop",
            "message": message}  # fmt: skip


@pytest.mark.django_db
def test_log_lines_show_under_their_step_and_attempt_escaped(viewer_client):
    run = make_run(id="logs-page")
    make_step(run, 0)
    StepLog.objects.create(run=run, position=0, attempt=1, records=[record("first try")])
    StepLog.objects.create(run=run, position=0, attempt=2, dropped=7,
                           records=[record(HOSTILE, "WARNING")])  # fmt: skip

    content = viewer_client.get("/runs/logs-page/").content.decode()

    assert 'id="step-logs-0"' in content and "log lines of 2 attempts" in content
    assert "attempt 1" in content and "first try" in content
    assert "attempt 2 (7 more not kept" in content
    assert HOSTILE not in content and "&lt;script&gt;" in content
    assert 'id="logs-link"' not in content


@pytest.mark.django_db
def test_the_logs_link_fills_in_the_run_id_quoted(viewer_client, settings):
    settings.DURABLE_LOGS_URL_TEMPLATE = "https://logs.example/explore?q={run_id}&w={workflow}"
    make_run(id="logs/link 1", workflow="shop.order")
    content = viewer_client.get("/runs/logs/link 1/").content.decode()
    assert 'href="https://logs.example/explore?q=logs%2Flink%201&amp;w=shop.order"' in content


@pytest.mark.usefixtures("engine")
def test_a_real_steps_three_log_lines_appear_on_its_run_page(viewer_client):
    durable.start(order, "logs-real", run_id="logs-real").result(timeout=20)
    content = viewer_client.get("/runs/logs-real/").content.decode()
    for line in ("charging order logs-real", "the bank is slow for logs-real",
                 "retrying the charge of logs-real"):  # fmt: skip
        assert line in content
