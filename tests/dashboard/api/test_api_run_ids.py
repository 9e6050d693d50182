"""Every valid run id can be read at `runs/{run_id}`, as typed or percent-encoded, even one
that spells another route's path (`actions/preview`): run ids are the callers' own strings.
The routes it shadows still act."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from durable.models import Run
from tests.dashboard.api import schema_tools
from tests.dashboard.conftest import make_run
from tests.dashboard.test_security_run_ids import VALID_IDS
from tests.tiers import examples

# the paths of other routes below runs/, each a valid run id as well
SHADOWING = sorted(
    path.removeprefix("/api/runs/")
    for path in schema_tools.schema()["paths"]
    if path.startswith("/api/runs/") and "{" not in path
)


RUN_IDS = st.one_of(
    st.sampled_from(SHADOWING),
    st.sampled_from(SHADOWING).map(lambda path: f"{path}/x"),
    VALID_IDS,
)


def test_the_shadowing_paths_are_found():
    assert "actions/preview" in SHADOWING and "actions/resume" in SHADOWING


def _read(api, run_id: str, encoded: bool):
    return api.get(f"/runs/{quote(run_id, safe='') if encoded else run_id}")


@settings(max_examples=examples(150), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(run_id=RUN_IDS, encoded=st.booleans())
@example(run_id="actions/preview", encoded=False)
@example(run_id="a//b/", encoded=False)
def test_every_valid_run_id_is_readable(view_api, run_id, encoded):
    if not Run.objects.filter(id=run_id).exists():
        make_run(id=run_id)
    response = _read(view_api, run_id, encoded)
    assert response.status_code == 200, (run_id, response.content[:300])
    assert response.json()["run"]["id"] == run_id


@pytest.mark.parametrize("run_id", SHADOWING)
def test_a_missing_run_spelling_a_route_is_a_404_not_a_405(view_api, run_id):
    response = view_api.get(f"/runs/{run_id}")
    assert response.status_code == 404, response.content
    assert repr(run_id) in response.json()["detail"]


def test_the_routes_a_run_id_shadows_still_act(operator_api, db):
    make_run(id="actions/preview")
    make_run(id="r-1")
    preview = operator_api.post("/runs/actions/preview", {"action": "restart", "run_ids": ["r-1"]})
    assert preview.status_code == 200, preview.content
    assert preview.json()["runs"] == 1  # the preview of r-1, not the run actions/preview
