"""A hostile export file with times at the ends of the calendar imports (the schema accepts
any ISO 8601 time), and then the run's page answers 500 to every viewer: the timeline pads
its range past year 1 or year 9999 (issue 21: no 500 anywhere on hostile input)."""

from __future__ import annotations

import json

import pytest

from durable.debugging import importing
from durable.models import Run
from tests.engine.import_files import AT, document, run_entry, step_record

pytestmark = pytest.mark.django_db

EARLIEST = "0001-01-01T00:00:00+00:00"
LATEST = "9999-12-31T23:59:59+00:00"


@pytest.mark.parametrize(
    "entry",
    [
        run_entry("planted-a", created_at=EARLIEST, started_at=AT, steps=[step_record(0)]),
        run_entry("planted-b", steps=[step_record(0, started_at=EARLIEST)]),
        run_entry("planted-c", steps=[step_record(0, finished_at=LATEST)]),
    ],
    ids=["run-created-in-year-1", "step-started-in-year-1", "step-finished-in-year-9999"],
)
def test_a_run_imported_with_extreme_times_has_a_page(viewer_client, entry):
    try:
        importing.import_text(json.dumps(document(entry)), name="run.json")
    except importing.ImportRefused:
        return  # refusing the file is a fine answer too
    run_id = Run.objects.get().id
    response = viewer_client.get(f"/runs/{run_id}/")
    assert response.status_code == 200
