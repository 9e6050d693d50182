"""durable.client: starting and driving runs by workflow name, without the workflow's code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from durable import client, executors
from durable.core import _clock as clock
from durable.core import _runtime as runtime
from durable.core import store
from durable.core._registry import get_workflow
from durable.errors import (
    InvalidArgumentError,
    OperationRefused,
    RunIdConflictError,
    SerializationError,
    UnknownWorkflowError,
)
from durable.models import Executor, Run, RunStatus
from durable.observability import _untaken as untaken
from tests.engine import celery_processes, client_workflows  # noqa: F401  (a worker here)
from tests.engine.processes import PROJECT_DIR, database_url_for_tests, wait_for
from tests.tiers import examples

APPROVAL = "tests.client.approval"
celery_cluster = celery_processes.celery_cluster


@pytest.fixture
def worker(transactional_db, settings):
    """This process executes the client workflows on its thread executor (and says so in
    its executor row, which is what a strict start by name looks for)."""
    settings.DURABLE_POLL_SECONDS = 0.1
    executor = executors.get_executor()
    wait_for(lambda: Executor.objects.filter(id=executor.executor_id).exists(), 10, "heartbeat")
    return executor


def run_client_process(run_id: str) -> dict:
    environment = {key: value for key, value in os.environ.items() if key != "DURABLE_MODULES"}
    environment.update(DATABASE_URL=database_url_for_tests(), DURABLE_EXECUTOR="external")
    completed = subprocess.run(
        [sys.executable, "-m", "tests.engine.client_process", run_id],
        cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_process_without_the_code_starts_signals_and_reads_a_run_that_a_worker_executes(
    worker,
):
    seen = run_client_process("client-1")

    assert seen["imported"] == [] and not any(n.startswith("tests.") for n in seen["registered"])
    assert seen["same_handle"] is True
    assert seen["event"] == {"amount": 42, "currency": "USD"}
    assert seen["output"] == {"order": "order-7", "amount": 42, "decision": "approved"}
    assert seen["error"] == ["ValueError", "out of stock"]
    run = Run.objects.get(id="client-1")
    assert (run.queue, run.tags) == ("orders", {"tier": "web"})
    assert (run.executor_id, run.version) == (worker.executor_id, get_workflow(APPROVAL).version)
    assert Run.objects.filter(id__startswith="client-1").count() == 2


@pytest.mark.slow
def test_runs_started_by_name_are_dispatched_to_celery_workers_that_have_the_code(
    celery_cluster,
):
    celery_cluster.start(1, DURABLE_MODULES="tests.engine.client_workflows")
    handle = client.start(APPROVAL, ["order-9", [5, 5]], run_id="celery-1")
    assert handle.get_event("total", timeout=30) == {"amount": 10, "currency": "EUR"}
    handle.send("approved", topic="decision")
    assert handle.result(timeout=30)["decision"] == "approved"
    run = Run.objects.get(id="celery-1")
    assert run.executor_id.startswith("celery") and run.version == get_workflow(APPROVAL).version


def test_a_run_started_by_name_takes_the_version_of_the_executor_that_claims_it(worker):
    handle = client.start(APPROVAL, ["o-1", [1, 2]], run_id="latest-1")
    wait_for(lambda: handle.get_event("total", timeout=0) is not None, 10, "the first step")
    handle.send("ok", topic="decision")
    assert handle.result(timeout=10)["decision"] == "ok"
    assert Run.objects.get(id="latest-1").version == get_workflow(APPROVAL).version


def test_inside_a_workflow_a_start_by_name_is_a_recorded_child(worker):
    assert client.start("tests.client.fan_out", [[1, 2]], run_id="fan-1").result(10) == [2, 4]
    children = Run.objects.filter(parent_id="fan-1").order_by("id")
    assert [(c.id, c.workflow) for c in children] == [
        ("fan-1~0", "tests.client.double"), ("fan-1~1", "tests.client.double")]  # fmt: skip
    assert {c.version for c in children} == {get_workflow("tests.client.double").version}
    assert [s.kind for s in client.retrieve("fan-1").steps()][:2] == ["child", "child"]


def test_a_run_stays_unversioned_until_an_executor_claims_it(transactional_db):
    client.start(APPROVAL, ["o-1", [1]], run_id="waiting-1")
    run = Run.objects.get(id="waiting-1")
    assert (run.status, run.version) == (RunStatus.ENQUEUED, "")


def test_a_pinned_version_waits_for_an_executor_serving_that_version(worker):
    with pytest.raises(UnknownWorkflowError, match="at version 'old-code'.*strict=False"):
        client.start(APPROVAL, ["o-1", [1]], run_id="pinned-1", version="old-code")
    client.start(APPROVAL, ["o-1", [1]], run_id="pinned-1", version="old-code", strict=False)

    [group] = [g for g in untaken.untaken() if g.workflow == APPROVAL]
    assert (group.version, group.run_ids, group.forkable) == ("old-code", ["pinned-1"], True)
    assert Run.objects.get(id="pinned-1").status == RunStatus.ENQUEUED


def test_a_name_no_executor_ever_served_is_refused_unless_not_strict(worker):
    with pytest.raises(UnknownWorkflowError, match="'billing.invoice'.*strict=False"):
        client.start("billing.invoice", [7])
    assert not Run.objects.filter(workflow="billing.invoice").exists()

    client.start("billing.invoice", [7], run_id="invoice-7", strict=False)
    [group] = [g for g in untaken.untaken() if g.workflow == "billing.invoice"]
    assert (group.version, group.run_ids) == ("", ["invoice-7"])
    assert "no live executor runs billing.invoice" in group.reason
    # once a run of it exists, the name is known: a second start needs no strict=False
    assert client.start("billing.invoice", [8], run_id="invoice-8").status() == "ENQUEUED"


def test_a_name_known_only_from_an_executor_row_is_accepted(transactional_db):
    store.heartbeat(executor_id="elsewhere-1", kind="celery", hostname="w", pid=1,
                    workflows=["shipping.label@abc123", "shipping.label@"])  # fmt: skip
    assert client.start("shipping.label", run_id="label-1").status() == "ENQUEUED"
    assert client.start("shipping.label", version="abc123", run_id="label-2").status()
    with pytest.raises(UnknownWorkflowError):
        client.start("shipping", run_id="label-3")  # a prefix of a known name is not it


def test_a_name_and_version_this_process_registers_need_no_executor(transactional_db):
    current = get_workflow(APPROVAL).version
    assert client.start(APPROVAL, version=current, run_id="local-1").status() == "ENQUEUED"
    assert Run.objects.get(id="local-1").version == current
    with pytest.raises(UnknownWorkflowError, match="at version 'other'"):
        client.start(APPROVAL, version="other", run_id="local-2")


def test_input_json_cannot_store_fails_at_the_call_and_writes_nothing(transactional_db):
    with pytest.raises(SerializationError, match="tests.client.approval"):
        client.start(APPROVAL, ["o-1", {1, 2}], run_id="bad-1")
    with pytest.raises(SerializationError):
        client.start(APPROVAL, kwargs={"when": object()}, run_id="bad-2")
    assert not Run.objects.exists()


def test_arguments_of_the_wrong_shape_are_refused_by_name(transactional_db):
    with pytest.raises(InvalidArgumentError, match="args"):
        client.start(APPROVAL, "o-1")
    with pytest.raises(InvalidArgumentError, match="kwargs"):
        client.start(APPROVAL, kwargs={1: "x"})
    with pytest.raises(InvalidArgumentError, match="workflow"):
        client.start("")
    with pytest.raises(InvalidArgumentError, match="version"):
        client.start(APPROVAL, version=3)


def test_workflow_keyword_arguments_never_collide_with_start_options(transactional_db):
    client.start(APPROVAL, kwargs={"timeout": 5, "queue": "q"}, run_id="kw-1")
    run = Run.objects.get(id="kw-1")
    assert run.input == {"args": [], "kwargs": {"timeout": 5, "queue": "q"}}
    assert (run.queue, run.deadline_at) == ("default", None)


def test_the_same_run_id_is_the_same_run(transactional_db):
    first = client.start(APPROVAL, ["o-1", [1]], run_id="same-1")
    assert client.start(APPROVAL, ["o-2", [2]], run_id="same-1") == first
    assert Run.objects.get(id="same-1").input["args"] == ["o-1", [1]]
    with pytest.raises(RunIdConflictError, match="tests.client.approval"):
        client.start("tests.client.refuses", ["x"], run_id="same-1")


def test_cancel_by_id_stops_the_run_and_is_audited(transactional_db):
    from durable.models import AuditEntry

    client.start(APPROVAL, ["o-1", [1]], run_id="cancel-1", queue="nowhere")
    client.cancel("cancel-1", reason="customer left")
    assert client.status("cancel-1") == RunStatus.CANCELLED
    assert AuditEntry.objects.filter(action="cancel", run_ids__contains=["cancel-1"]).exists()
    with pytest.raises(OperationRefused, match="cancel-1"):
        client.retrieve("cancel-1").cancel()


def test_a_send_by_id_retried_with_its_idempotency_key_is_delivered_once(transactional_db):
    from durable.models import Message

    handle = client.start(APPROVAL, ["o-2", [1]], run_id="keyed-1", queue="nowhere")
    client.send("keyed-1", "yes", topic="approval", idempotency_key="reply-7")
    handle.send("yes again", topic="approval", idempotency_key="reply-7")
    assert list(Message.objects.filter(run_id="keyed-1").values_list("payload", flat=True)) == [
        "yes"
    ]


@hypothesis_settings(max_examples=examples(60), deadline=None)
@given(
    workflow=st.text(st.sampled_from("ab@%_.\\"), min_size=1, max_size=5),
    others=st.lists(st.text(st.sampled_from("ab@%_.\\"), min_size=1, max_size=6), max_size=4),
    version=st.text(st.sampled_from("0123456789abcdef"), min_size=1, max_size=4),
)
def test_the_claim_stamps_the_version_the_executor_has_for_exactly_that_workflow(
    django_db_blocker, workflow, others, version
):
    keys = [f"{other}@v{i}" for i, other in enumerate(others) if other != workflow]
    keys += [f"{workflow}@", f"{workflow}@{version}"]
    sql = "WITH run AS (SELECT %(workflow)s::text AS workflow, ''::text AS version) SELECT "
    params = {"workflow": workflow, "workflows": sorted(keys)}
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(sql + store.STAMP_VERSION + " FROM run", params)
        assert cursor.fetchone()[0] == version


def test_a_run_started_by_name_with_a_delay_waits_until_due(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    before = clock.now()
    handle = client.start(APPROVAL, ["o-1", [1]], run_id="later-1", delay=60)
    run = Run.objects.get(id="later-1")
    assert run.status == RunStatus.ENQUEUED
    assert before + timedelta(seconds=59) < run.available_at < clock.now() + timedelta(seconds=61)
    assert runtime.claim("later-1", "executor-a", [APPROVAL]) is None  # not due yet
    at = datetime(2031, 1, 1, tzinfo=UTC)
    client.start(APPROVAL, ["o-1", [1]], run_id="later-2", at=at)
    assert Run.objects.get(id="later-2").available_at == at
    assert handle.status() == "ENQUEUED"


def test_a_run_started_by_name_keeps_its_max_recoveries(transactional_db):
    client.start(APPROVAL, ["o-1", [1]], run_id="recover-1", max_recoveries=5)
    assert Run.objects.get(id="recover-1").max_recoveries == 5


def test_delay_at_and_max_recoveries_by_name_are_checked_like_durable_start(transactional_db):
    with pytest.raises(InvalidArgumentError, match="delay"):
        client.start(APPROVAL, run_id="x-1", delay=5, at=datetime(2031, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidArgumentError, match="at"):
        client.start(APPROVAL, run_id="x-2", at=datetime(2031, 1, 1))
    with pytest.raises(InvalidArgumentError, match="delay"):
        client.start(APPROVAL, run_id="x-3", delay="soon")
    with pytest.raises(InvalidArgumentError, match="max_recoveries"):
        client.start(APPROVAL, run_id="x-4", max_recoveries=-1)
    assert not Run.objects.exists()
