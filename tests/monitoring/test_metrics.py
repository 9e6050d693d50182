"""`/metrics`: a scrape parsed with prometheus_client's own parser matches the known runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

import durable
from durable.core import _creation as creation
from durable.core import store
from tests.engine.workflows import FLAKY_FAILURES, retrying, sum_three


@pytest.fixture(autouse=True)
def _development(settings):
    """Development scrapes without a token (test_metrics_safety covers tokens)."""
    settings.DEBUG = True


def scrape(client, **headers) -> dict[str, dict[tuple, float]]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


@pytest.fixture
def known_runs(transactional_db):
    """2 successes, 1 retried success, 1 DEAD run with 3 recoveries, 2 runs waiting in a
    queue nobody drains (the oldest due for 60 s), one live executor."""
    durable.run(sum_three, 1, 2, 3)
    durable.run(sum_three, 4, 5, 6)
    FLAKY_FAILURES["m-retry"] = 1
    assert durable.run(retrying, "m-retry") == "ok"
    for run_id, ago in (("m-dead", 0), ("m-wait-1", 60), ("m-wait-2", 5)):
        new = creation.NewRun("tests.nobody", "", {}, "m-queue", run_id=run_id)
        creation.create_run(new)
        sql(
            "UPDATE durable_run SET available_at = now() - make_interval(secs => %s) WHERE id = %s",
            [ago, run_id],
        )
    sql("UPDATE durable_run SET status = 'DEAD', recovery_count = 3 WHERE id = 'm-dead'")
    store.heartbeat(
        executor_id="m-exec", kind="celery", hostname="h", pid=1, workflows=["tests.sum_three@v7"]
    )
    sql("SELECT pg_advisory_lock(hashtextextended('m-exec', 0))")  # its lifeline: it lives
    yield
    sql("SELECT pg_advisory_unlock(hashtextextended('m-exec', 0))")


def label(**labels) -> tuple:
    return tuple(sorted(labels.items()))


def test_run_counters_by_workflow_and_status(known_runs, client):
    samples = scrape(client)
    created = samples["durable_runs_created_total"]
    assert created[label(workflow="tests.sum_three")] == 2
    assert created[label(workflow="tests.nobody")] == 3
    finished = samples["durable_runs_finished_total"]
    assert finished[label(workflow="tests.sum_three", status="SUCCESS")] == 2
    assert finished[label(workflow="tests.nobody", status="DEAD")] == 1
    assert label(workflow="tests.nobody", status="ENQUEUED") not in finished
    assert samples["durable_runs"][label(workflow="tests.nobody", status="ENQUEUED")] == 2
    assert samples["durable_dead_runs"][label(workflow="tests.nobody")] == 1
    assert samples["durable_recoveries_total"][label(workflow="tests.nobody")] == 3


def test_step_duration_histogram_by_workflow_and_step(known_runs, client):
    samples = scrape(client)
    step = label(workflow="tests.sum_three", step="tests.engine.workflows.add", le="+Inf")
    assert samples["durable_step_duration_seconds_bucket"][step] == 4
    sizes = label(workflow="tests.sum_three", step="tests.engine.workflows.add", le="256.0")
    assert samples["durable_step_output_bytes_bucket"][sizes] == 4
    labels = label(workflow="tests.sum_three", step="tests.engine.workflows.add")
    assert samples["durable_step_duration_seconds_gcount"][labels] == 4


def test_retries_count_failed_attempts(known_runs, client):
    attempts = scrape(client)["durable_step_failed_attempts_total"]
    assert attempts == {label(step="tests.engine.workflows.flaky"): 1}


def test_queue_depth_and_oldest_wait(known_runs, client):
    samples = scrape(client)
    assert samples["durable_queue_depth"][label(queue="m-queue")] == 2
    assert 60 <= samples["durable_queue_oldest_age_seconds"][label(queue="m-queue")] < 90


def test_live_executors_and_the_versions_they_serve(known_runs, client, settings):
    # The test process's own executor serves every workflow its collection registered (over
    # 300 in a full run): past the label limit they would be folded into "other"
    settings.DURABLE_METRICS_MAX_LABEL_VALUES = 10_000
    samples = scrape(client)
    assert samples["durable_executors_live"][label(kind="celery")] == 1
    serving = samples["durable_executors_serving"]
    assert serving[label(workflow="tests.sum_three", version="v7")] == 1


def test_metrics_are_off_unless_enabled(db, client, settings):
    settings.DURABLE_METRICS_ENABLED = False
    assert client.get("/metrics").status_code == 404


def test_metrics_without_its_package_say_what_to_install(db, client, monkeypatch):
    from durable.observability import _metrics as metrics

    monkeypatch.setattr(metrics, "CollectorRegistry", None)  # as when the import failed
    response = client.get("/metrics")
    assert response.status_code == 501
    assert "django-durable-runs[metrics]" in response.content.decode()


def test_a_system_check_warns_when_metrics_are_on_without_their_package(settings, monkeypatch):
    from durable.core import _checks as checks

    settings.DURABLE_METRICS_ENABLED = True
    monkeypatch.setattr(checks.importlib.util, "find_spec", lambda name: None)
    assert [message.id for message in checks.check_metrics_package()] == ["durable.W015"]


def test_metrics_token_requires_the_bearer_header(db, client, settings):
    settings.DURABLE_METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_the_grafana_dashboard_queries_only_metrics_the_scrape_exposes(known_runs, client):
    dashboard = json.loads((Path(__file__).parents[2] / "docs/grafana-dashboard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"durable_[a-z_]+", target["expr"])
    }
    assert queried and queried <= set(scrape(client))
