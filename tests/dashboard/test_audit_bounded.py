"""The audit log stays small however large the edited values: an entry keeps a 2 KB
preview of each large old and new output, the page links to the whole values (kept in the
original run's and the fork's step), and a page of 50 such edits is a few kilobytes per
entry and a fixed number of queries."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from durable import operations
from durable.models import AuditEntry, Run, Step
from durable.operations import _patching as patching
from tests.dashboard.conftest import make_failed_run

BIG = {"blob": "x" * 2_400_000, "tail": "the end"}
# fifty edits of a value twelve times the largest entry the page may hold (8 KB): a page that
# loaded or showed whole values fails its bounds as surely as with 2.4 MB each, for a
# twenty-fourth of the writing (each fork copies the value twice: 7 s -> 0.7 s here)
LARGE = {"blob": "x" * 100_000, "tail": "the end"}


@pytest.fixture
def big_edits(engine, settings):
    """`big_edits(n)`: n forks of one run, each with its 2.4 MB (or `value`) step 0 output
    edited."""
    settings.DURABLE_EXECUTOR = "external"  # the forks need not run
    run = make_failed_run(id="big-1")

    def edit(times: int, value: dict = BIG) -> list[str]:
        Step.objects.filter(run=run, position=0).update(output=value)
        return [
            operations.fork(run.id, from_step=1, patch={0: {**value, "edit": n}}, actor="alice")
            for n in range(times)
        ]

    return edit


def _assert_loaded_bounded(response) -> None:
    """What the view read from the database per entry, not only what it rendered."""
    entries = response.context["entries"]
    assert len(entries) == 50
    assert max(len(json.dumps(entry.detail)) for entry in entries) < 8 * 1024


def _stored_detail_chars() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(octet_length(detail::text)) FROM durable_auditentry")
        return cursor.fetchone()[0]


def test_an_entry_keeps_previews_of_large_values_not_the_values(big_edits):
    big_edits(1)
    assert _stored_detail_chars() < 3 * patching.AUDIT_VALUE_CHARS
    change = AuditEntry.objects.filter(action="fork").first().detail["patch"]["big-1"]["0"]
    assert change["old"] is None and change["old_chars"] > 2_400_000
    assert change["new_preview"].startswith('{"blob": "xxx')
    assert len(change["new_preview"]) == patching.AUDIT_VALUE_CHARS


def test_the_whole_values_stay_one_click_away(big_edits, viewer_client):
    fork_id = big_edits(2)[-1]
    page = viewer_client.get("/audit/").content.decode()
    assert f"/values/step-0-output/{fork_id}" in page  # the new value, in the fork's step
    assert "/values/step-0-output/big-1" in page  # the old value, in the original's step
    whole = json.loads(b"".join(viewer_client.get(f"/values/step-0-output/{fork_id}")))
    assert whole == {**BIG, "edit": 1}


def test_a_page_of_fifty_large_edits_is_small_and_a_fixed_number_of_queries(
    big_edits, viewer_client, django_assert_max_num_queries
):
    big_edits(50, LARGE)
    with django_assert_max_num_queries(8):
        response = viewer_client.get("/audit/")
    assert response.status_code == 200
    assert len(response.content) < 50 * 8 * 1024
    _assert_loaded_bounded(response)


@pytest.mark.slow  # 50 entries of 2.4 MB values: 12 s here; the fast tier keeps the three above
def test_older_entries_with_whole_values_are_not_loaded_by_the_page(
    db, viewer_client, django_assert_max_num_queries
):
    for n in range(50):  # as an earlier version wrote them
        AuditEntry.objects.create(
            actor="alice", action="fork", run_ids=[f"r-{n}"],
            detail={"done": {f"r-{n}": f"f-{n}"}, "args": [BIG["blob"]],
                    "patch": {f"r-{n}": {"0": {"step": "s", "old": BIG, "new": BIG}}}},
        )  # fmt: skip
    with django_assert_max_num_queries(8):
        response = viewer_client.get("/audit/")
    assert response.status_code == 200
    assert len(response.content) < 50 * 8 * 1024
    _assert_loaded_bounded(response)
    assert Run.objects.count() == 0
