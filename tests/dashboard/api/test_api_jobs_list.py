"""The Jobs page over the API: every bulk job, newest first, with its progress and who
started it and why; a view token reads it."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import make_failed_run


def _start_job(operator_api, action: str, run_id: str) -> dict:
    target = {"action": action, "scope": "selected", "run_ids": [run_id]}
    preview = operator_api.post("/bulk/preview", target).json()
    start = {**target, "reason": f"tidy {run_id}", "token": preview["token"],
             "as_of": preview["as_of"], "total": 1}  # fmt: skip
    response = operator_api.post("/bulk", start)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_jobs_list_shows_every_job_newest_first(operator_api, view_api, engine, settings):
    settings.DURABLE_EXECUTOR = "external"  # the jobs wait: only the list is looked at
    make_failed_run(id="r-0", workflow="not.registered")
    make_failed_run(id="r-1", workflow="not.registered")
    first, second = (
        _start_job(operator_api, "hold", "r-0"),
        _start_job(operator_api, "resume", "r-1"),
    )
    response = view_api.get("/bulk")
    assert response.status_code == 200, response.content
    jobs = response.json()
    assert [job["id"] for job in jobs] == [second["id"], first["id"]]
    assert jobs[0]["action"] == "resume" and jobs[0]["reason"] == "tidy r-1"
    assert jobs[0]["actor"].startswith("owner via API token ")
    assert {"state", "total", "percent", "finished", "created_at"} <= set(jobs[0])


def test_the_jobs_list_takes_a_limit(operator_api, view_api, engine, settings):
    settings.DURABLE_EXECUTOR = "external"
    for number in range(3):
        make_failed_run(id=f"r-{number}", workflow="not.registered")
        _start_job(operator_api, "hold", f"r-{number}")
    assert len(view_api.get("/bulk", limit=2).json()) == 2
    bad = view_api.get("/bulk", limit=0)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "limit"


@pytest.mark.django_db
def test_no_jobs_is_an_empty_list(view_api):
    assert view_api.get("/bulk").json() == []
