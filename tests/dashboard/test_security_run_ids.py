"""Every valid run id round-trips through links and redirects; none addresses another run."""

from __future__ import annotations

from django.urls import resolve, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durable.core._validation import RUN_ID_PATTERN, validate_run_id
from durable.errors import InvalidRunIdError
from tests.dashboard.conftest import make_run
from tests.tiers import examples

ROUND_TRIPS = {"ids": 0}


def _valid(run_id: str) -> bool:
    try:
        validate_run_id(run_id)
    except InvalidRunIdError:
        return False
    return True


VALID_IDS = st.from_regex(RUN_ID_PATTERN, fullmatch=True).filter(_valid)


@settings(max_examples=examples(2000), deadline=None)
@given(run_id=VALID_IDS)
def test_every_valid_run_id_round_trips_through_its_link(run_id):
    ROUND_TRIPS["ids"] += 1
    url = reverse("dashboard:run", args=[run_id])
    match = resolve(url)
    assert match.url_name == "run" and match.kwargs["run_id"] == run_id
    download = resolve(reverse("dashboard:step_value", args=[3, "output", run_id]))
    assert download.kwargs == {"position": 3, "field": "output", "run_id": run_id}


@settings(max_examples=examples(25), deadline=None, suppress_health_check=list(HealthCheck))
@given(run_id=VALID_IDS)
def test_a_run_page_and_the_redirect_after_an_action_open_that_very_run(owner_client, run_id):
    run = make_run(id=run_id, status="ERROR")
    page = owner_client.get(reverse("dashboard:run", args=[run.id]))
    assert page.status_code == 200 and page.context["run"].id == run_id
    answer = owner_client.post("/actions/cancel/", {"run_id": run_id})
    assert answer.status_code == 302
    assert resolve(answer["Location"]).kwargs["run_id"] == run_id
    run.delete()


def test_a_run_id_cannot_climb_to_another_run(db):
    for attacker in ("attacker/../victim", "a/./b", "x/.."):
        assert not _valid(attacker)


def test_run_pages_of_unaddressable_ids_are_404_not_500(viewer_client):
    for path in ("/runs/a%00b/", "/runs/x%0Ay/", "/runs/" + "x" * 300 + "/"):
        assert viewer_client.get(path).status_code in (400, 404)
