"""A dry run of a mass resume flags runs whose workflow *changed shape*, not runs that a
resume simply carries on past their recorded end: a run that failed in its workflow body
after its last checkpoint (fixed and deployed since) resumes to SUCCESS, so calling it
"would diverge ... deploy the old code or fork them instead" sends the operator away from
the right fix (issue 25 "Dry run first": which runs would diverge, non-determinism)."""

from __future__ import annotations

import durable
from durable import operations
from durable.debugging import dry_run
from tests.dashboard.conftest import wait_until_finished

BODY_FIXED = {"deployed": False}


@durable.step()
def reserve(order: str) -> str:
    return f"reserved {order}"


@durable.step()
def ship(order: str) -> str:
    return f"shipped {order}"


@durable.workflow(name="tests.dry_run_past_end.body_bug")
def body_bug(order: str) -> str:
    reserve(order)
    if not BODY_FIXED["deployed"]:
        raise ValueError("bug in the workflow body, between two steps")
    return ship(order)


def test_a_run_that_failed_in_its_body_does_not_diverge_once_the_fix_is_deployed(
    side_effects,
):
    BODY_FIXED["deployed"] = False
    durable.start(body_bug, "o-1", run_id="body-1")
    assert wait_until_finished("body-1") == "ERROR"
    BODY_FIXED["deployed"] = True  # the fix is deployed
    try:
        report = dry_run.dry_run("resume", ["body-1"])
        operations.resume("body-1")
        assert wait_until_finished("body-1") == "SUCCESS"  # the resume goes on: same shape
        assert report.diverging == {}, report.lines()
        assert "none diverges" in "\n".join(report.lines())
    finally:
        BODY_FIXED["deployed"] = False
