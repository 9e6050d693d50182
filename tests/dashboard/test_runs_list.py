"""The runs list at /: access, filters, search, keyset pages, counts, live partial, escaping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.queries.runs import Cursor, RunFilter, runs_page, status_counts
from tests.dashboard.conftest import HOSTILE, make_failed_run, make_run

pytestmark = pytest.mark.django_db


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_stranger_without_the_view_permission_gets_403(stranger_client):
    assert stranger_client.get("/").status_code == 403


def test_a_viewer_sees_runs_but_no_selection_or_bulk_actions(viewer_client):
    make_run(id="order-1")
    response = viewer_client.get("/")
    assert response.status_code == 200
    assert b"order-1" in response.content
    assert b'class="run-select"' not in response.content
    assert b"matching this filter" not in response.content


def test_an_owner_can_select_rows_for_bulk_actions(owner_client):
    make_run(id="order-1")
    response = owner_client.get("/")
    assert b'class="run-select"' in response.content
    assert b"matching this filter" in response.content


def test_the_empty_state_says_how_to_start_runs(viewer_client):
    response = viewer_client.get("/")
    assert b"No runs yet." in response.content
    assert b"durable demo" in response.content


def test_filter_by_status_and_workflow(viewer_client):
    make_run(id="ok-1", workflow="shop.order")
    make_failed_run(id="bad-1", workflow="shop.order")
    make_failed_run(id="bad-2", workflow="ml.train")
    content = viewer_client.get("/?status=ERROR&workflow=shop.order").content.decode()
    assert "bad-1" in content
    assert "ok-1" not in content and "bad-2" not in content


def test_filter_by_error_type_tag_and_time_window(viewer_client):
    make_failed_run(id="tagged", tags={"customer": "acme"})
    make_run(id="old", created_at=timezone.now() - timedelta(days=3), tags={"customer": "acme"})
    content = viewer_client.get("/?tag=customer=acme&window=24h").content.decode()
    assert "tagged" in content and "/runs/old/" not in content
    content = viewer_client.get("/?error_type=shop.CardDeclined").content.decode()
    assert "tagged" in content


def test_search_finds_a_run_by_id_or_by_text_in_its_input(viewer_client):
    make_run(id="order-77", input={"args": [77, "alice@example.com"], "kwargs": {}})
    make_run(id="order-78", input={"args": [78, "bob@example.com"], "kwargs": {}})
    assert "order-77" in viewer_client.get("/?q=order-77").content.decode()
    by_text = viewer_client.get("/?q=ALICE@example").content.decode()
    assert "order-77" in by_text and "order-78" not in by_text


def test_keyset_pages_walk_every_run_once_in_both_directions(db):
    now = timezone.now()
    for index in range(7):
        make_run(id=f"r{index}", created_at=now - timedelta(minutes=index))
    make_run(id="tie-a", created_at=now - timedelta(minutes=3))
    seen, cursor = [], None
    while True:
        page = runs_page(RunFilter(), cursor, size=3)
        seen.extend(row["id"] for row in page.rows)
        if page.older is None:
            break
        cursor = page.older
    assert len(seen) == len(set(seen)) == 8
    assert Cursor.decode(cursor.encode()) == cursor
    newer = runs_page(RunFilter(), page.newer, size=3)
    assert [row["id"] for row in newer.rows] == seen[-5:-2]


def test_oldest_first_pages_walk_forward_in_time(db):
    now = timezone.now()
    for index in range(5):
        make_run(id=f"r{index}", created_at=now - timedelta(minutes=index))
    first = runs_page(RunFilter(oldest_first=True), size=2)
    assert [row["id"] for row in first.rows] == ["r4", "r3"] and first.older is None
    second = runs_page(RunFilter(oldest_first=True), first.newer, size=2)
    assert [row["id"] for row in second.rows] == ["r2", "r1"]
    back = runs_page(RunFilter(oldest_first=True), second.older, size=2)
    assert [row["id"] for row in back.rows] == ["r4", "r3"]


def test_a_malformed_cursor_shows_the_first_page(viewer_client):
    make_run(id="order-1")
    response = viewer_client.get("/?cursor=%3Cscript%3E")
    assert response.status_code == 200 and b"order-1" in response.content


def test_status_counts_are_per_status_and_capped(db):
    for _ in range(3):
        make_run()
    make_failed_run()
    counts = status_counts(RunFilter(), cap=2)
    assert counts["SUCCESS"] == 2 and counts["ERROR"] == 1 and counts["RUNNING"] == 0


def test_htmx_refresh_returns_only_the_results_partial(viewer_client):
    make_run(id="order-1")
    response = viewer_client.get("/?status=SUCCESS", headers={"HX-Request": "true"})
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="results"')
    assert "order-1" in content and "<html" not in content
    assert "status=SUCCESS" in content  # the poll keeps the filter


def test_hostile_run_values_are_escaped(owner_client):
    make_failed_run(id="evil", message=HOSTILE, workflow=HOSTILE, tags={"x": HOSTILE})
    content = owner_client.get("/").content.decode()
    assert HOSTILE not in content
    assert "&lt;script&gt;" in content
