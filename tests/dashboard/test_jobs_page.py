"""The Jobs pages: a job that does not exist is a 404 that says so, and the list's columns
add up to each job's total (done, refused, skipped as superseded, left)."""

from __future__ import annotations

import uuid

import pytest

from durable.models import BulkJob


@pytest.mark.parametrize("job_id", ["not-a-uuid", str(uuid.uuid4())])
def test_a_job_that_does_not_exist_is_a_404_saying_so(viewer_client, db, job_id):
    page = viewer_client.get(f"/jobs/{job_id}/")
    assert page.status_code == 404
    assert b"No such job" in page.content


def test_the_jobs_list_shows_the_runs_skipped_as_superseded(viewer_client, db):
    BulkJob.objects.create(
        id=uuid.uuid4(), run_id="durable-job-skips", action="restart", actor="ops",
        reason="retry all",
        run_ids=[f"r-{n}" for n in range(10)], total=10, offset=10, done=3, skipped=7,
        state="FINISHED",
    )  # fmt: skip
    html = viewer_client.get("/jobs/").content.decode()
    assert '<th class="num">Skipped</th>' in html
    row = html[html.index('data-job="') :]
    assert ">7</td>" in row[: row.index("</tr>")]
