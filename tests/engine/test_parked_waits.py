"""recv(timeout=…) and get_event inside a workflow park the run, as a long sleep does."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

import durable
from durable import executors
from durable.models import Run, Step
from tests.engine.processes import wait_for
from tests.engine.workflows import sum_three


@durable.workflow(name="tests.parked.receiver")
def patient_receiver(timeout: float):
    return durable.recv(timeout=timeout)


@durable.workflow(name="tests.parked.watcher")
def watcher(run_id: str, timeout: float):
    return durable.get_event(run_id, "ready", timeout=timeout)


@durable.workflow(name="tests.parked.publisher")
def publisher(delay: float) -> str:
    durable.sleep(delay)
    durable.set_event("ready", {"at": "last"})
    return "published"


@pytest.fixture
def one_thread(settings, transactional_db):
    settings.DURABLE_SLEEP_INLINE_SECONDS = 0.2
    settings.DURABLE_POLL_SECONDS = 0.1
    settings.DURABLE_PARKED_POLL_SECONDS = 0.3
    settings.DURABLE_EXECUTOR = "external"
    executors.shutdown()
    executors.start_thread_executor(threads=1)


def parked(run_id: str) -> bool:
    run = Run.objects.get(id=run_id)
    return run.status == "ENQUEUED" and run.executor_id is None and run.steps_done > 0


def test_a_long_recv_gives_its_thread_back_and_a_message_wakes_it(one_thread):
    handle = durable.start(patient_receiver, 30, run_id="parked-recv")
    wait_for(lambda: parked("parked-recv"), 5, "the receiver to park")
    assert durable.run(sum_three, 1, 2, 3, run_id="meanwhile") == 6  # the one thread is free
    sent_at = time.monotonic()
    durable.send("parked-recv", {"go": True})
    assert handle.result(timeout=5) == {"go": True}
    assert time.monotonic() - sent_at < 1.5


def test_a_parked_recv_keeps_its_recorded_deadline_when_taken_up_again(one_thread):
    started = time.monotonic()
    handle = durable.start(patient_receiver, 1.5, run_id="parked-timeout")
    wait_for(lambda: parked("parked-timeout"), 5, "the receiver to park")
    Run.objects.filter(id="parked-timeout").update(available_at=timezone.now())  # taken up early
    assert handle.result(timeout=5) is None
    assert 1.4 < time.monotonic() - started < 3.0
    names = list(Step.objects.filter(run_id="parked-timeout").values_list("name", flat=True))
    assert names == ["durable.recv.wait", "durable.recv"]


def test_a_long_get_event_parks_and_finds_the_event_when_it_is_set(one_thread):
    handle = durable.start(watcher, "parked-publisher", 30, run_id="parked-watcher")
    wait_for(lambda: parked("parked-watcher"), 5, "the watcher to park")
    durable.start(publisher, 0.5, run_id="parked-publisher")
    assert handle.result(timeout=10) == {"at": "last"}
