"""`/metrics` is safe by default: a token outside development, compared as bytes, hostile
headers answered 401 (never 500), and labels bounded however many workflows and queues."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from durable.core import store
from durable.models import Run

TOKEN = "s3cret-tøken"


def _header(token: str) -> str:
    """What a WSGI server hands Django: the header's UTF-8 bytes decoded as latin-1."""
    return f"Bearer {token}".encode().decode("latin-1")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer é", "Bearer ☃", "Bearer \udcff", "é", "Bearer " + "x" * 10_000, "Bearer", ""],
)
def test_a_malformed_or_non_ascii_authorization_header_is_refused_not_a_500(
    db, client, settings, authorization
):
    settings.DURABLE_METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_non_ascii_token_matches_the_header_a_scraper_sends(db, client, settings):
    settings.DURABLE_METRICS_TOKEN = TOKEN
    assert client.get("/metrics", HTTP_AUTHORIZATION=_header(TOKEN)).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=_header("s3cret-token")).status_code == 401


def test_without_a_token_metrics_are_refused_outside_development_naming_the_setting(
    db, client, settings
):
    settings.DEBUG = False
    settings.DURABLE_METRICS_TOKEN = ""
    response = client.get("/metrics")
    assert response.status_code == 403
    assert "DURABLE_METRICS_TOKEN" in response.content.decode()


def test_without_a_token_development_still_scrapes(db, client, settings):
    settings.DEBUG = True
    settings.DURABLE_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200


def _insert_runs(workflows: int, queues: int, status: str = "ENQUEUED") -> None:
    Run.objects.bulk_create(
        Run(id=f"card-{i}", workflow=f"imported.w{i % workflows}", queue=f"q{i % queues}",
            status=status, input={})
        for i in range(max(workflows, queues))
    )  # fmt: skip


def _label_values(body: str, metric: str, label: str) -> set[str]:
    values = set()
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == metric:
                values.add(sample.labels[label])
    return values


def test_workflows_and_queues_beyond_the_limit_are_folded_into_other(db, client, settings):
    settings.DURABLE_METRICS_TOKEN = TOKEN
    settings.DURABLE_METRICS_MAX_LABEL_VALUES = 20
    _insert_runs(workflows=500, queues=300)
    store.heartbeat(
        executor_id="card-exec", kind="thread", hostname="h", pid=1,
        workflows=[f"imported.w{i}@v1" for i in range(100)],
    )  # fmt: skip
    body = client.get("/metrics", HTTP_AUTHORIZATION=_header(TOKEN)).content.decode()
    workflows = _label_values(body, "durable_runs_created_total", "workflow")
    assert len(workflows) == 21 and "other" in workflows
    queues = _label_values(body, "durable_queue_depth", "queue")
    assert len(queues) == 21 and "other" in queues
    serving = _label_values(body, "durable_executors_serving", "workflow")
    assert len(serving) == 21 and "other" in serving
    total = sum(
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "durable_queue_depth"
    )
    assert total == 500  # folded, not dropped
    assert len(body) < 60_000


def test_the_busiest_workflows_keep_their_own_label(db, client, settings):
    settings.DURABLE_METRICS_TOKEN = TOKEN
    settings.DURABLE_METRICS_MAX_LABEL_VALUES = 3
    _insert_runs(workflows=10, queues=1)
    Run.objects.bulk_create(
        Run(id=f"busy-{i}", workflow="app.busy", queue="q0", status="SUCCESS", input={})
        for i in range(50)
    )
    body = client.get("/metrics", HTTP_AUTHORIZATION=_header(TOKEN)).content.decode()
    assert "app.busy" in _label_values(body, "durable_runs_created_total", "workflow")


def test_check_deploy_warns_when_metrics_are_on_without_a_token(settings):
    from django.core import checks

    settings.DURABLE_METRICS_ENABLED = True
    settings.DURABLE_METRICS_TOKEN = ""
    ids = [message.id for message in checks.run_checks(include_deployment_checks=True)]
    assert "durable.W016" in ids
    settings.DURABLE_METRICS_TOKEN = TOKEN
    ids = [message.id for message in checks.run_checks(include_deployment_checks=True)]
    assert "durable.W016" not in ids
