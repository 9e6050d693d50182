"""A run loaded by `durable import` says so on the runs list, the run page and the API."""

from __future__ import annotations

import pytest

import durable
from tests.dashboard.conftest import make_run

pytestmark = pytest.mark.django_db


def test_the_runs_list_marks_imported_runs(viewer_client):
    make_run(id="from-file", imported=True)
    make_run(id="made-here")
    content = viewer_client.get("/").content.decode()
    assert content.count('class="tag imported"') == 1
    row = content.split('href="/runs/from-file/"')[1].split("</tr>")[0]
    assert ">imported</span>" in row


def test_the_run_page_marks_an_imported_run(viewer_client):
    make_run(id="from-file", imported=True)
    make_run(id="made-here")
    assert 'id="run-imported"' in viewer_client.get("/runs/from-file/").content.decode()
    assert 'id="run-imported"' not in viewer_client.get("/runs/made-here/").content.decode()


def test_the_api_records_say_imported():
    make_run(id="from-file", imported=True)
    make_run(id="made-here")
    assert durable.get_run("from-file").imported is True
    assert durable.get_run("made-here").imported is False
    assert {run.id: run.imported for run in durable.list_runs()} == {
        "from-file": True,
        "made-here": False,
    }
