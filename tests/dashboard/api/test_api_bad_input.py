"""A request the engine refuses for what it sent (an unknown workflow, input that cannot be
stored or does not fit) is a 400 naming the field, as every invalid field is; a 409 is kept
for the state of the runs and schedules (a taken id, a run that already succeeded)."""

from __future__ import annotations

import json

import pytest

from durable.models import AuditEntry, Run, Schedule
from durable.schedules import _declared as declared_schedules
from tests.dashboard.conftest import make_failed_run, make_run
from tests.dashboard.workflows import order
from tests.engine.test_dynamic_schedules import ping


@pytest.fixture
def schedules(engine, monkeypatch):
    monkeypatch.setattr(declared_schedules, "_schedules", {})


def _bad_field(response, field: str) -> dict:
    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["detail"].startswith("Nothing changed: ")
    assert [error["field"] for error in problem["errors"]] == [field]
    return problem


def test_a_schedule_of_an_unknown_workflow_is_a_400_naming_the_workflow(operator_api, schedules):
    response = operator_api.post(
        "/schedules",
        {"name": "nightly", "workflow": "no.such", "cron": "0 * * * *", "reason": "new"},
    )
    problem = _bad_field(response, "workflow")
    assert "no workflow named 'no.such'" in problem["detail"]
    assert "registered:" in problem["detail"]  # the names it could have meant
    assert not Schedule.objects.exists()


def test_changing_a_schedule_to_an_unknown_workflow_is_a_400(operator_api, schedules):
    created = operator_api.post(
        "/schedules",
        {"name": "nightly", "workflow": ping.__durable_workflow__.name, "cron": "0 * * * *",
         "reason": "new"},
    )  # fmt: skip
    assert created.status_code == 200, created.content
    response = operator_api.post(
        "/schedules/actions/update", {"name": "nightly", "workflow": "no.such", "reason": "x"}
    )
    _bad_field(response, "workflow")
    assert Schedule.objects.get(name="nightly").workflow == "tests.dyn.ping"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [("args", "[1e400]", "pass finite numbers"), ("kwargs", '{"size": NaN}', "pass finite numbers"),
     ("args", '["' + "x" * 1200 + '"]', "DURABLE_MAX_PAYLOAD_BYTES")],
)  # fmt: skip
def test_schedule_input_that_cannot_be_stored_is_a_400_naming_its_field(
    operator_api, schedules, settings, field, value, says
):
    settings.DURABLE_MAX_PAYLOAD_BYTES = 1000
    body = ('{"name": "nightly", "workflow": "tests.dyn.ping", "cron": "0 * * * *", '
            f'"{field}": {value}, "reason": "new"}}')  # fmt: skip
    problem = _bad_field(operator_api.post("/schedules", body), field)
    assert f"schedule {field} of tests.dyn.ping" in problem["detail"] and says in problem["detail"]
    assert not Schedule.objects.exists()


def test_changing_a_schedules_kwargs_to_what_cannot_be_stored_is_a_400_naming_kwargs(
    operator_api, schedules
):
    created = operator_api.post(
        "/schedules",
        {"name": "nightly", "workflow": "tests.dyn.ping", "cron": "0 * * * *", "reason": "new"},
    )
    assert created.status_code == 200, created.content
    body = '{"name": "nightly", "kwargs": {"limit": -Infinity}, "reason": "x"}'
    problem = _bad_field(operator_api.post("/schedules/actions/update", body), "kwargs")
    assert "pass finite numbers" in problem["detail"]
    assert Schedule.objects.get(name="nightly").input == {"args": [], "kwargs": {}}


def test_schedule_args_and_kwargs_over_the_limit_only_together_name_both(
    operator_api, schedules, settings
):
    settings.DURABLE_MAX_PAYLOAD_BYTES = 1000
    half = "x" * 600
    body = {"name": "nightly", "workflow": "tests.dyn.ping", "cron": "0 * * * *",
            "args": [half], "kwargs": {"note": half}, "reason": "new"}  # fmt: skip
    response = operator_api.post("/schedules", body)
    assert response.status_code == 400, response.content
    assert [error["field"] for error in response.json()["errors"]] == ["args", "kwargs"]
    assert "together" in response.json()["detail"]


@pytest.fixture
def failed(engine) -> str:
    assert order  # registered: the edited input is checked against its signature
    return make_failed_run(id="f-1", workflow="dashtests.order",
                           input={"args": [1, True], "kwargs": {}}).id  # fmt: skip


def _fork(operator_api, run_id: str, edited_input: str, **fields):
    extra = "".join(f', "{name}": {json.dumps(value)}' for name, value in fields.items())
    body = (f'{{"run_id": "{run_id}", "from_step": 1, "reason": "edit",'
            f' "input": {edited_input}{extra}}}')  # fmt: skip
    return operator_api.post("/runs/actions/fork", body)


@pytest.mark.parametrize(
    ("edited", "says"),
    [('{"args": [1e400]}', "finite"), ('{"args": [NaN]}', "finite"),
     ('{"kwargs": {"order_id": -Infinity}}', "finite")],
)  # fmt: skip
def test_a_fork_whose_edited_input_cannot_be_stored_is_a_400_naming_the_input(
    operator_api, failed, edited, says
):
    response = _fork(operator_api, failed, edited)
    problem = _bad_field(response, "input")
    assert "cannot be stored" in problem["detail"] and says in problem["detail"]
    assert not Run.objects.filter(forked_from_id=failed).exists()
    refusal = AuditEntry.objects.get(action="fork").detail["refused"][failed]
    assert "cannot be stored" in refusal  # refused, and still on the record


def test_a_fork_whose_edited_input_is_over_the_payload_limit_is_a_400(
    operator_api, failed, settings
):
    settings.DURABLE_MAX_PAYLOAD_BYTES = 1000
    problem = _bad_field(_fork(operator_api, failed, json.dumps({"args": ["x" * 2000]})), "input")
    assert "DURABLE_MAX_PAYLOAD_BYTES" in problem["detail"]


def test_a_fork_whose_edited_input_holds_a_lone_surrogate_is_a_400(operator_api, failed):
    response = _fork(operator_api, failed, '{"args": ["\\ud800"]}')
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["detail"]


def test_a_fork_whose_edited_input_does_not_fit_the_workflow_is_a_400(operator_api, failed):
    problem = _bad_field(_fork(operator_api, failed, '{"args": [1, 2, 3, 4]}'), "input")
    assert "does not fit dashtests.order" in problem["detail"]


@pytest.mark.parametrize(
    ("patch", "says"),
    [('{"1": "late"}', "not before the fork point"),  # from_step is 1
     ('{"0": "a", "00": "b"}', "step 0 is patched twice"),
     ('{"-1": "x"}', "step numbers"), ('{"0.0": "x"}', "step numbers"),
     ('{" 0": "x"}', "step numbers"), ('{"one": "x"}', "step numbers"),
     ('{"0": NaN}', "finite"), ('{"0": 1e400}', "finite"),
     ('{"1234567890": "x"}', "step numbers"), ('{"' + "9" * 5000 + '": "x"}', "step numbers")],
)  # fmt: skip
def test_a_fork_patch_that_is_wrong_in_itself_is_a_400_naming_the_patch(
    operator_api, failed, patch, says
):
    problem = _bad_field(_fork_patched(operator_api, failed, patch), "patch")
    assert says in problem["detail"]
    assert says in problem["errors"][0]["message"]
    assert not Run.objects.filter(forked_from_id=failed).exists()


def test_a_fork_patch_of_a_step_the_run_never_recorded_stays_a_409(operator_api, failed):
    response = operator_api.post(
        "/runs/actions/fork",
        '{"run_id": "f-1", "from_step": 9, "reason": "edit", "patch": {"8": 1}}',
    )
    assert response.status_code == 409, response.content
    assert "run f-1: it has no recorded step 8" in response.json()["detail"]


def _fork_patched(operator_api, run_id: str, patch: str):
    body = f'{{"run_id": "{run_id}", "from_step": 1, "reason": "edit", "patch": {patch}}}'
    return operator_api.post("/runs/actions/fork", body)


def test_a_fork_onto_a_taken_run_id_stays_a_409(operator_api, failed):
    make_run(id="taken")
    response = _fork(operator_api, failed, '{"args": [1, false]}', new_run_id="taken")
    assert response.status_code == 409, response.content
    assert response.json()["errors"] == []


def test_a_restart_whose_recorded_input_no_longer_fits_stays_a_409(operator_api, engine):
    assert order
    make_failed_run(id="old", workflow="dashtests.order", input={"args": [], "kwargs": {"x": 1}})
    response = operator_api.post("/runs/actions/restart", {"run_id": "old", "reason": "retry"})
    assert response.status_code == 409, response.content
    assert "does not fit" in response.json()["detail"]
