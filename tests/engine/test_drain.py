"""An operator drains an executor: it claims no new runs, its runs in flight finish there
(or are released past a deadline), and undraining lets it claim again."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from hypothesis import given
from hypothesis import strategies as st

import durable
from durable import operations
from durable.core.store._channels import DRAIN_CHANNEL
from durable.core.store._channels import drain_notice as notice_text
from durable.core.store._channels import parse_drain_notice as parse_notice
from durable.errors import ExecutorNotFoundError, InvalidArgumentError
from durable.executors.thread import ThreadExecutor
from durable.models import AuditEntry, Executor, Run
from tests.engine.workflows import ledger, slow_ledger


def wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def pair(side_effects, settings):
    """Two thread executors in this process (durable.start only records runs)."""
    settings.DURABLE_EXECUTOR = "external"
    started = []

    def start() -> ThreadExecutor:
        executor = ThreadExecutor(threads=2, poll_seconds=0.05)
        executor.start()
        started.append(executor)
        wait_for(lambda: Executor.objects.filter(id=executor.executor_id).exists(), 10, "row")
        return executor

    yield start
    for executor in started:
        executor.shutdown(wait=True)


def _run_on(run_id: str) -> str:
    wait_for(lambda: Run.objects.get(id=run_id).status == "SUCCESS", 30, f"{run_id} done")
    return Run.objects.get(id=run_id).executor_id


def test_a_drained_executor_takes_no_new_runs_while_another_does(pair):
    drained, other = pair(), pair()
    operations.drain_executor(drained.executor_id, actor="ops", reason="deploy")
    wait_for(drained._operator_drain.is_set, 5, "the drain notification")
    for n in range(8):
        durable.start(ledger, f"dr-{n}", ["a"], run_id=f"dr-{n}")
    assert {_run_on(f"dr-{n}") for n in range(8)} == {other.executor_id}
    assert Executor.objects.get(id=drained.executor_id).draining


@pytest.mark.slow
def test_a_drained_executors_run_in_flight_finishes_there(pair):
    drained = pair()
    durable.start(slow_ledger, "dr-slow", 4, 0.3, run_id="dr-slow")
    wait_for(lambda: Run.objects.get(id="dr-slow").executor_id == drained.executor_id, 10, "claim")
    other = pair()
    operations.drain_executor(drained.executor_id)
    durable.start(ledger, "dr-new", ["a"], run_id="dr-new")
    assert _run_on("dr-new") == other.executor_id
    assert _run_on("dr-slow") == drained.executor_id
    assert Run.objects.get(id="dr-slow").recovery_count == 0


@pytest.mark.slow
def test_a_drain_with_a_deadline_releases_runs_still_in_flight_to_others(pair, side_effects):
    drained = pair()
    durable.start(slow_ledger, "dr-late", 6, 0.4, run_id="dr-late")
    wait_for(lambda: Run.objects.get(id="dr-late").executor_id == drained.executor_id, 10, "claim")
    other = pair()
    operations.drain_executor(drained.executor_id, release_after=0.2)
    assert _run_on("dr-late") == other.executor_id
    run = Run.objects.get(id="dr-late")
    assert (run.output, run.recovery_count) == (6, 0)  # a release, not a death
    assert all(count <= 2 for count in side_effects("dr-late").values())  # at-least-once


@pytest.mark.slow
def test_a_drain_deadline_releases_a_run_inside_its_step_which_then_runs_again_elsewhere(
    pair, side_effects
):
    """Released at the deadline, not at a step boundary: the step in flight is still running
    on the drained executor when another takes the run, runs again there from the last
    checkpoint, and only that one's checkpoint counts."""
    drained = pair()
    durable.start(slow_ledger, "dr-mid", 2, 3.0, run_id="dr-mid")
    wait_for(lambda: Run.objects.get(id="dr-mid").executor_id == drained.executor_id, 10, "claim")
    other = pair()
    operations.drain_executor(drained.executor_id, release_after=0.2)
    wait_for(lambda: Run.objects.get(id="dr-mid").executor_id == other.executor_id, 2.5,
             "the release, while step 0 (3 s) still runs on the drained executor")  # fmt: skip
    assert side_effects("dr-mid") == {}  # step 0 has returned nowhere yet
    assert _run_on("dr-mid") == other.executor_id
    assert side_effects("dr-mid") == {"step-0": 2, "step-1": 1}  # step 0 ran on both
    assert Run.objects.get(id="dr-mid").steps.count() == 2


def test_an_undrained_executor_claims_runs_again(pair):
    executor = pair()
    operations.drain_executor(executor.executor_id)
    wait_for(executor._operator_drain.is_set, 5, "drained")
    durable.start(ledger, "dr-wait", ["a"], run_id="dr-wait")
    time.sleep(0.5)
    assert Run.objects.get(id="dr-wait").status == "ENQUEUED"
    operations.undrain_executor(executor.executor_id, actor="ops")
    assert _run_on("dr-wait") == executor.executor_id
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "actor"))
    assert actions[-2:] == [("drain", actions[-2][1]), ("undrain", "ops")]


def test_the_heartbeat_corrects_a_missed_notification(pair):
    executor = pair()
    Executor.objects.filter(id=executor.executor_id).update(draining=True)  # no NOTIFY
    executor._heartbeat(starting=False)
    assert executor._operator_drain.is_set()
    Executor.objects.filter(id=executor.executor_id).update(draining=False)
    executor._heartbeat(starting=False)
    assert not executor._operator_drain.is_set()


def test_draining_an_unknown_executor_says_so_and_changes_nothing(transactional_db):
    with pytest.raises(ExecutorNotFoundError, match="no executor 'thread-gone'"):
        operations.drain_executor("thread-gone")
    with pytest.raises(InvalidArgumentError, match="release_after"):
        operations.drain_executor("thread-gone", release_after=-1)
    assert not AuditEntry.objects.exists()


def test_drain_and_undrain_from_the_command_line(transactional_db):
    Executor.objects.create(id="celery:host:9", kind="celery", hostname="host", pid=9)
    out = io.StringIO()
    call_command("durable", "drain", "celery:host:9", "--release-after", "30",
                 "--actor", "alice", stdout=out)  # fmt: skip
    assert "draining celery:host:9" in out.getvalue()
    assert Executor.objects.get(id="celery:host:9").draining
    call_command("durable", "undrain", "celery:host:9", stdout=io.StringIO())
    assert not Executor.objects.get(id="celery:host:9").draining
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "drain",
        "undrain",
    ]
    with pytest.raises(CommandError, match="no executor 'celery:gone:1'"):
        call_command("durable", "drain", "celery:gone:1", stdout=io.StringIO())


def test_cancelling_a_run_named_like_a_drain_notice_drains_nothing(pair):
    executor = pair()
    run_id = f"drain:{executor.executor_id}:5"
    durable.start(ledger, run_id, ["a"], run_id=run_id, delay=3600)  # waits, in no executor
    operations.cancel(run_id)
    assert Run.objects.get(id=run_id).status == "CANCELLED"
    time.sleep(0.5)  # the notification, had it been heard as a drain
    assert not executor._operator_drain.is_set()
    assert not Executor.objects.get(id=executor.executor_id).draining


def test_a_run_id_that_looks_like_a_bad_drain_notice_does_not_delay_the_cancels_after_it(pair):
    executor = pair()
    durable.start(ledger, "drain:x", ["a"], run_id="drain:x", delay=3600)
    durable.start(slow_ledger, "dr-busy", 40, 0.3, run_id="dr-busy")
    wait_for(lambda: executor._in_flight_event("dr-busy") is not None, 10, "dr-busy claimed")
    cancelled = executor._in_flight_event("dr-busy")
    with transaction.atomic():  # one commit: "drain:x" is notified first, then dr-busy
        operations.cancel("drain:x")
        operations.cancel("dr-busy")
    assert cancelled.wait(1.0), "dr-busy's cancel was not heard at once"


def test_a_malformed_drain_notice_is_logged_and_the_listener_keeps_hearing(pair, caplog):
    executor = pair()
    durable.start(slow_ledger, "dr-heard", 40, 0.3, run_id="dr-heard")
    wait_for(lambda: executor._in_flight_event("dr-heard") is not None, 10, "dr-heard claimed")
    cancelled = executor._in_flight_event("dr-heard")
    with transaction.atomic():  # one commit: the bad notice is delivered first
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, 'drain:x')", [DRAIN_CHANNEL])
        operations.cancel("dr-heard")
    assert cancelled.wait(1.0), "the cancel after a bad notice was not heard at once"
    assert "ignored a malformed notice 'drain:x'" in caplog.text
    assert not executor._operator_drain.is_set()


@given(
    executor_id=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1),
    draining=st.booleans(),
    release_after=st.none() | st.floats(0, 1e6),
)
def test_a_drain_notice_reads_back_as_it_was_sent(executor_id, draining, release_after):
    release_after = release_after if draining else None
    assert parse_notice(notice_text(executor_id, draining, release_after)) == (
        executor_id,
        draining,
        release_after,
    )


@pytest.mark.parametrize("payload", ["drain:x", "drain:nightly", "undrain:x", "run-7", "drain::"])
def test_a_payload_that_is_no_drain_notice_is_refused(payload):
    with pytest.raises(ValueError):
        parse_notice(payload)
