"""Hostile input on the debugging tools ("Edit output and continue", whole values): a clear
400 or 404, never a server error, for viewers and operators alike."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from durable.models import Run
from tests.dashboard.conftest import make_failed_run

DEEP = "[" * 5000 + "]" * 5000
HUGE_NUMBER = "9" * 5000


@pytest.fixture
def target(engine) -> str:
    return make_failed_run(id="r-1").id


def _quiet(client: Client) -> Client:
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize(
    ("output", "said"),
    [
        (DEEP, "nested too deeply"),
        ('{"a": ' * 3000 + "1" + "}" * 3000, "nested too deeply"),
        (HUGE_NUMBER, "too many digits"),
        ('{"amount": -' + HUGE_NUMBER + "}", "too many digits"),
        ("NaN", "not valid JSON"),
        ('{"x": 1e400}', "not valid JSON"),
    ],
)
def test_a_hostile_edited_output_is_refused_with_a_clear_message(
    owner_client, target, output, said
):
    response = _quiet(owner_client).post(
        "/actions/patch/", {"run_id": target, "position": 0, "output": output}
    )
    assert response.status_code == 400
    assert said in response.content.decode()
    assert Run.objects.count() == 1


@pytest.mark.parametrize("run_id", ["r-1\n", "r\n1", "a\x00b", "x" * 5000, "attacker/../r-1"])
def test_a_hostile_run_id_on_the_patch_form_is_refused_not_a_500(owner_client, target, run_id):
    response = _quiet(owner_client).post(
        "/actions/patch/", {"run_id": run_id, "position": 0, "output": "1"}
    )
    assert response.status_code < 500
    assert Run.objects.count() == 1


@pytest.mark.parametrize(
    "which",
    ["step-²-output", "step-" + HUGE_NUMBER + "-output", "step--1-output", "step-0-x", "²"],
)
@pytest.mark.parametrize("who", ["viewer_client", "owner_client"])
def test_a_hostile_value_name_is_not_found_not_a_500(request, target, which, who):
    client = _quiet(request.getfixturevalue(who))
    assert client.get(f"/values/{which}/{target}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/values/step/" + HUGE_NUMBER + "/output/r-1",
        "/edit-output/" + HUGE_NUMBER + "/r-1",
        "/edit-output/0/r-1%0A",
        "/values/output/r%0A1",
        "/compare/r-1?other=" + "9" * 5000,
        "/compare/r-1%0A?other=r%0A1",
    ],
)
def test_hostile_debug_paths_answer_without_a_server_error(owner_client, target, path):
    assert _quiet(owner_client).get(path).status_code < 500


def test_a_valid_edit_still_forks(owner_client, target):
    response = owner_client.post(
        "/actions/patch/", {"run_id": target, "position": 0, "output": json.dumps({"ok": 9})}
    )
    assert response.status_code == 302
    assert Run.objects.filter(forked_from_id=target).count() == 1
