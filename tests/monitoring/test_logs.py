"""Log lines carry the run, workflow, step and attempt they were written under."""

from __future__ import annotations

import json
import logging

import pytest

import durable
from durable.observability.logs import ContextFilter, JsonFormatter
from tests.monitoring.workflows import FAILURES, checkout, refused, user_logger


@pytest.fixture
def tagged_user_logger():
    tag = ContextFilter()
    user_logger.addFilter(tag)
    yield user_logger
    user_logger.removeFilter(tag)


def test_user_log_lines_inside_a_step_carry_run_step_and_attempt(
    transactional_db, caplog, tagged_user_logger
):
    FAILURES["log-1"] = 1
    caplog.set_level(logging.INFO)
    assert durable.run(checkout, "log-1", 5, run_id="log-1") == 5
    lines = [r for r in caplog.records if r.name == "tests.monitoring.user"]
    assert [(r.run_id, r.workflow, r.step, r.position, r.attempt) for r in lines] == [
        ("log-1", "tests.monitoring.checkout", "tests.monitoring.workflows.charge", 0, 1),
        ("log-1", "tests.monitoring.checkout", "tests.monitoring.workflows.charge", 0, 2),
    ]


def test_engine_log_lines_carry_the_run_and_workflow(transactional_db, caplog):
    caplog.set_level(logging.INFO, logger="durable")
    handle = durable.start(refused, "no funds", run_id="log-2")
    with pytest.raises(ValueError):
        handle.result(timeout=10)
    failed = [r for r in caplog.records if r.name == "durable" and "failed" in r.getMessage()]
    assert [(r.run_id, r.workflow) for r in failed] == [("log-2", "tests.monitoring.refused")]


def test_log_lines_outside_a_run_have_empty_tags(caplog):
    caplog.set_level(logging.INFO, logger="durable")
    logging.getLogger("durable").info("outside")
    (record,) = [r for r in caplog.records if r.getMessage() == "outside"]
    assert (record.run_id, record.step, record.attempt) == ("", "", "")


def test_json_formatter_writes_one_object_with_the_tags(transactional_db, tagged_user_logger):
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    user_logger.addHandler(handler)
    user_logger.setLevel(logging.INFO)
    try:
        durable.run(checkout, "log-3", 7, run_id="log-3")
    finally:
        user_logger.removeHandler(handler)
        user_logger.setLevel(logging.NOTSET)
    entry = json.loads(lines[0])
    assert entry["message"] == "charging 7"
    assert entry["level"] == "INFO"
    assert (entry["run_id"], entry["step"], entry["attempt"]) == (
        "log-3",
        "tests.monitoring.workflows.charge",
        1,
    )
