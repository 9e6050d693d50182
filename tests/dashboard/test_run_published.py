"""The run page shows what a run published: its events and its streams' latest values,
escaped and bounded."""

from __future__ import annotations

import pytest

from dashboard.queries.detail import PREVIEW_CHARS
from durable.models import Event, StreamEntry
from tests.dashboard.conftest import HOSTILE, make_run

pytestmark = pytest.mark.django_db


def _stream(run, key: str, values: list, *, closed: bool) -> None:
    for offset, value in enumerate(values):
        StreamEntry.objects.create(run=run, key=key, offset=offset, value=value, position=0)
    if closed:
        StreamEntry.objects.create(run=run, key=key, offset=len(values), closed=True, position=1)


def test_the_run_page_shows_each_event_s_latest_value_escaped(viewer_client):
    run = make_run(id="pub-1")
    Event.objects.create(run=run, key="progress", value={"percent": 40})
    Event.objects.create(run=run, key=HOSTILE, value=HOSTILE)
    content = viewer_client.get("/runs/pub-1/").content.decode()
    assert 'id="events"' in content and "percent" in content
    assert HOSTILE not in content and "&lt;script&gt;alert(" in content


def test_the_run_page_shows_a_stream_s_count_and_last_values(viewer_client):
    run = make_run(id="pub-2")
    _stream(run, "tokens", [f"token-{n}" for n in range(8)], closed=True)
    content = viewer_client.get("/runs/pub-2/").content.decode()
    assert "8 values, closed; the last 5:" in content
    assert all(f"token-{n}" in content for n in range(3, 8))
    assert "token-2" not in content  # older values are counted, not listed
    assert '<li value="7">' in content  # each value is numbered by its offset


def test_a_hostile_stream_value_is_escaped(viewer_client):
    run = make_run(id="pub-3", status="RUNNING", finished_at=None)
    _stream(run, HOSTILE, [HOSTILE], closed=False)
    content = viewer_client.get("/runs/pub-3/").content.decode()
    assert HOSTILE not in content and "&lt;script&gt;alert(" in content
    assert "1 value, open" in content


def test_a_large_stream_value_is_shown_as_its_preview(viewer_client):
    run = make_run(id="pub-4")
    _stream(run, "big", ["x" * (PREVIEW_CHARS * 3)], closed=False)
    content = viewer_client.get("/runs/pub-4/").content.decode()
    assert "x" * (PREVIEW_CHARS - 10) in content and "x" * (PREVIEW_CHARS + 10) not in content
    assert "…" in content


def test_a_run_that_published_nothing_has_no_such_panel(viewer_client):
    make_run(id="pub-5")
    assert 'id="published"' not in viewer_client.get("/runs/pub-5/").content.decode()
