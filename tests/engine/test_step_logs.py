"""Step logs: the records a step attempt emits are kept with the run (bounded, leveled,
off-able), in one statement when the attempt ends, and none when it logged nothing."""

from __future__ import annotations

import io
import logging
import threading

import psycopg
import pytest
from django.core.management import CommandError, call_command

import durable
from durable.core.store._direct import DirectPath
from durable.models import StepLog

pytestmark = pytest.mark.usefixtures("transactional_db")

shop = logging.getLogger("tests.shop")
shop.setLevel(logging.DEBUG)


@durable.step()
def charge(order: str) -> str:
    shop.info("charging order %s", order)
    shop.debug("card ends in 4242")
    shop.warning("the bank is slow for %s", order)
    shop.error("retrying the charge of %s", order)
    return f"charged {order}"


@durable.step()
def quiet(index: int) -> int:
    return index


@durable.step()
def chatty(index: int) -> int:
    shop.info("step %d here", index)
    return index


FLAKY_TRIES: dict[str, int] = {}


@durable.step(retries=1, retry_delay=0.01)
def flaky_logger(key: str) -> str:
    FLAKY_TRIES[key] = FLAKY_TRIES.get(key, 0) + 1
    shop.warning("try %d of %s", FLAKY_TRIES[key], key)
    if FLAKY_TRIES[key] == 1:
        raise ValueError("first try fails")
    return key


@durable.workflow(name="tests.step_logs.order")
def order(name: str) -> str:
    return charge(name)


@durable.workflow(name="tests.step_logs.quiet")
def quiet_steps(count: int) -> int:
    return sum(quiet(index) for index in range(count))


@durable.workflow(name="tests.step_logs.chatty")
def chatty_steps(count: int) -> int:
    return sum(chatty(index) for index in range(count))


@durable.workflow(name="tests.step_logs.flaky")
def flaky_steps(key: str) -> str:
    return flaky_logger(key)


def messages(run_id: str) -> list[str]:
    return [r["message"] for log in StepLog.objects.filter(run_id=run_id) for r in log.records]


def test_a_steps_three_log_lines_are_kept_and_printed_by_durable_logs():
    durable.start(order, "logs-1", run_id="logs-1").result(timeout=20)

    assert messages("logs-1") == [
        "charging order logs-1",
        "the bank is slow for logs-1",
        "retrying the charge of logs-1",
    ]  # fmt: skip  (DEBUG is below the default INFO threshold)
    log = StepLog.objects.get(run_id="logs-1")
    assert (log.position, log.attempt, log.dropped) == (0, 1, 0)
    assert [r["level"] for r in log.records] == ["INFO", "WARNING", "ERROR"]
    out = io.StringIO()
    call_command("durable", "logs", "logs-1", "--step", "0", stdout=out)
    printed = out.getvalue().splitlines()
    assert len(printed) == 3
    assert printed[0].endswith("step 0 attempt 1 INFO tests.shop: charging order logs-1")
    out = io.StringIO()
    call_command("durable", "logs", "logs-1", "--follow", stdout=out)  # a finished run: ends
    assert len(out.getvalue().splitlines()) == 3
    with pytest.raises(CommandError, match="no run with id"):
        call_command("durable", "logs", "nope")
    out, err = io.StringIO(), io.StringIO()
    call_command("durable", "logs", "logs-1", "--step", "5", stdout=out, stderr=err)
    assert out.getvalue() == ""  # nothing on stdout for a pipe to mistake for a line
    assert "no log lines recorded for step 5 of run logs-1" in err.getvalue()
    with pytest.raises(CommandError, match="must be 0 or more"):
        call_command("durable", "logs", "logs-1", "--step", "-1")


def test_logs_are_bounded_by_count_and_level_and_can_be_turned_off(settings):
    settings.DURABLE_STEP_LOGS_MAX_RECORDS = 2
    durable.start(order, "logs-few", run_id="logs-few").result(timeout=20)
    assert len(messages("logs-few")) == 2
    assert StepLog.objects.get(run_id="logs-few").dropped == 1

    settings.DURABLE_STEP_LOGS_MAX_RECORDS = 200
    settings.DURABLE_STEP_LOGS_LEVEL = "ERROR"
    durable.start(order, "logs-errors", run_id="logs-errors").result(timeout=20)
    assert messages("logs-errors") == ["retrying the charge of logs-errors"]

    settings.DURABLE_STEP_LOGS = False
    durable.start(order, "logs-off", run_id="logs-off").result(timeout=20)
    assert not StepLog.objects.filter(run_id="logs-off").exists()


class StatementCounter:
    """Records every statement sent, at psycopg's cursor and at the store's direct path
    through libpq (store._direct), so Django's cursors, the store's prepared statements and
    its hot statements are all seen: a measurement, not a stand-in."""

    def __init__(self, monkeypatch) -> None:
        self.texts: list[str] = []
        self.params: list[str] = []
        self._lock = threading.Lock()
        execute = psycopg.Cursor.execute
        execute_directly = DirectPath.execute

        def counted(cursor, query, params=None, **options):
            self._record(query, params)
            return execute(cursor, query, params, **options)

        def counted_directly(path, query, params, **options):
            rows = execute_directly(path, query, params, **options)
            # not when psycopg's cursor sends it (it counts there), nor a call the path made
            # itself to send a statement the server had dropped again
            if rows is not None and options.get("again", True):
                self._record(query, params)
            return rows

        monkeypatch.setattr(psycopg.Cursor, "execute", counted)
        monkeypatch.setattr(DirectPath, "execute", counted_directly)

    def _record(self, query, params) -> None:
        with self._lock:
            self.texts.append(str(query))
            # not result()'s polls, nor the lifeline asking about the runs in flight
            if threading.current_thread() is not threading.main_thread() and (
                "-- pending_stack_requests --" not in str(query)
            ):
                self.params.append(repr(params))


def statements_of_a_run(
    settings, monkeypatch, run_id: str, steps: int, logs_on: bool, workflow=quiet_steps
) -> int:
    """Statements sent about one run of `steps` steps (those naming the run: other threads'
    polls and heartbeats, and this test's wait for the result, do not count)."""
    settings.DURABLE_STEP_LOGS = logs_on
    with monkeypatch.context() as patch:
        counter = StatementCounter(patch)
        durable.start(workflow, steps, run_id=run_id).result(timeout=30)
    # log records travel in the checkpoint's statement, never in one of their own
    assert not [text for text in counter.texts if "-- record_step_logs --" in text]
    return sum(repr(run_id) in params for params in counter.params)


def test_a_step_that_logs_nothing_costs_no_extra_statement(settings, monkeypatch):
    statements_of_a_run(settings, monkeypatch, "quiet-warm", 2, logs_on=True)  # executor up
    steps = 20
    off = statements_of_a_run(settings, monkeypatch, "quiet-off", steps, logs_on=False)
    on = statements_of_a_run(settings, monkeypatch, "quiet-on", steps, logs_on=True)
    print(f"\nstatements per run of {steps} quiet steps: logs off {off}, logs on {on}")
    assert off >= steps, "each step's checkpoint is counted"
    assert on == off


def test_a_step_that_logs_costs_one_round_trip_as_a_quiet_one(settings, monkeypatch):
    statements_of_a_run(settings, monkeypatch, "chatty-warm", 2, logs_on=True)  # executor up
    steps = 10
    quiet_run = statements_of_a_run(settings, monkeypatch, "chatty-quiet", steps, logs_on=True)
    chatty_run = statements_of_a_run(
        settings, monkeypatch, "chatty-on", steps, logs_on=True, workflow=chatty_steps
    )
    assert chatty_run == quiet_run
    logs = StepLog.objects.filter(run_id="chatty-on").order_by("position")
    assert [(log.position, log.attempt) for log in logs] == [(i, 1) for i in range(steps)]
    assert messages("chatty-on") == [f"step {i} here" for i in range(steps)]


def test_each_attempt_keeps_its_own_log_records_with_its_attempt_row():
    assert durable.start(flaky_steps, "fl-1", run_id="fl-1").result(timeout=20) == "fl-1"
    logs = StepLog.objects.filter(run_id="fl-1").order_by("attempt")
    assert [(log.attempt, [r["message"] for r in log.records]) for log in logs] == [
        (1, ["try 1 of fl-1"]),
        (2, ["try 2 of fl-1"]),
    ]


def test_a_run_that_logged_can_be_deleted_with_its_log_records():
    from durable import operations
    from durable.models import Run

    durable.start(order, "logs-del", run_id="logs-del").result(timeout=20)
    assert StepLog.objects.filter(run_id="logs-del").exists()
    assert operations.delete("logs-del", actor="alice") == "logs-del"
    assert not Run.objects.filter(id="logs-del").exists()
    assert not StepLog.objects.filter(run_id="logs-del").exists()


def test_records_past_the_count_are_dropped_before_they_are_formatted():
    """A step that logs in a loop past DURABLE_STEP_LOGS_MAX_RECORDS pays nothing per record
    dropped: no message formatted, no redaction pass over it."""
    from durable.core._step_logs import Buffer

    class Counted:
        formatted = 0

        def __str__(self) -> str:
            Counted.formatted += 1
            return "order"

    buffer = Buffer(level=logging.INFO, max_records=2, max_bytes=64 * 1024)
    for _ in range(5):
        record = logging.LogRecord("shop", logging.INFO, "", 0, "charging %s", (Counted(),), None)
        buffer.add(record)
    assert (len(buffer.records), buffer.dropped) == (2, 3)
    assert Counted.formatted == 2


def test_step_logs_survive_a_logging_setup_that_replaces_the_root_handlers():
    """Celery's worker (worker_hijack_root_logger) and dictConfig replace the root logger's
    handlers after Durable has installed its own: step logs must go on being kept."""
    durable.start(order, "logs-before", run_id="logs-before").result(timeout=20)
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()  # what a hijacking logging setup does
    try:
        durable.start(order, "logs-after", run_id="logs-after").result(timeout=20)
    finally:
        root.handlers[:] = saved
    before = [line.replace("logs-before", "RUN") for line in messages("logs-before")]
    assert [line.replace("logs-after", "RUN") for line in messages("logs-after")] == before
    assert len(before) == 3
