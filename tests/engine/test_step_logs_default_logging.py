"""Step logs under this project's logging settings: DURABLE_STEP_LOGS_LEVEL (INFO by default)
decides what a step keeps. A logger nobody configured (its level NOTSET, so the root's level
applies) is what a new user's `logging.getLogger(__name__)` is."""

from __future__ import annotations

import logging

import pytest

import durable
from durable.models import StepLog

pytestmark = pytest.mark.usefixtures("transactional_db")

# deliberately no setLevel: the host's logging configuration is the project's own
plain = logging.getLogger("tests.step_logs.plain_shop")


@durable.step()
def pack(order: str) -> str:
    plain.info("picking %s", order)
    plain.info("packing %s", order)
    plain.info("labelling %s", order)
    return order


@durable.workflow(name="tests.step_logs.default_logging.pack")
def pack_order(order: str) -> str:
    return pack(order)


def test_a_steps_info_lines_are_kept_at_the_default_level_without_configuring_its_logger():
    durable.run(pack_order, "o-1", run_id="default-logging-info-lines")
    kept = [r["message"] for log in StepLog.objects.filter(run_id="default-logging-info-lines")
            for r in log.records]  # fmt: skip
    assert kept == ["picking o-1", "packing o-1", "labelling o-1"]
