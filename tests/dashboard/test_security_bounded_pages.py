"""Pages stay small at any data size: previews of big values, searches an index serves."""

from __future__ import annotations

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.queries.detail import PREVIEW_CHARS
from tests.dashboard.conftest import make_run, make_step

BIG = {"blob": "x" * (2 * 1024 * 1024)}  # 2 MB of JSON per value


def test_a_run_with_big_outputs_renders_previews_not_megabytes(viewer_client):
    run = make_run(output=BIG, input={"args": [BIG], "kwargs": {}})
    for position in range(5):
        make_step(run, position, input={"args": [position]}, output=BIG)
    response = viewer_client.get(f"/runs/{run.id}/")
    assert response.status_code == 200
    assert len(response.content) < 12 * PREVIEW_CHARS  # 7 previews of 64 KB, not 14 MB
    assert "download the full output" in response.content.decode()


def test_the_full_value_is_downloaded_in_chunks(viewer_client):
    run = make_run()
    make_step(run, 0, output=BIG)
    response = viewer_client.get(f"/values/step/0/output/{run.id}")
    assert response.streaming and "attachment" in response["Content-Disposition"]
    assert json.loads(b"".join(response.streaming_content)) == BIG


def test_downloads_need_the_view_permission_and_an_existing_value(stranger_client, viewer_client):
    run = make_run()
    make_step(run, 0)
    assert stranger_client.get(f"/values/step/0/output/{run.id}").status_code == 403
    assert viewer_client.get(f"/values/step/9/output/{run.id}").status_code == 404
    assert viewer_client.get(f"/values/run/error/{run.id}").status_code == 404


def test_small_values_are_shown_whole_and_indented(viewer_client):
    run = make_run(output={"total": 42, "items": ["a"] * 30})
    content = viewer_client.get(f"/runs/{run.id}/").content.decode()
    assert "&quot;total&quot;: 42" in content and "download the full" not in content


def test_a_short_search_matches_run_ids_only_and_says_so(viewer_client):
    make_run(id="ab", input={"args": ["ab"], "kwargs": {}})
    make_run(id="other", input={"args": ["xaby"], "kwargs": {}})
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get("/", {"q": "ab"})
    rows = [row["id"] for row in response.context["page"].rows]
    assert rows == ["ab"] and 'id="short-search"' in response.content.decode()
    assert not any("LIKE" in query["sql"] for query in queries.captured_queries)


def test_queue_and_version_filters_are_served_by_an_index(db):
    for name in ("run_queue_created_idx", "run_version_created_idx"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
            assert cursor.fetchone(), name


def test_admin_step_search_is_an_exact_indexed_lookup(db, client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", "", "pw"))
    run = make_run()
    make_step(run, 0)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/durable/step/", {"q": run.id})
    assert response.status_code == 200 and run.id in response.content.decode()
    searches = [q["sql"] for q in queries.captured_queries if "durable_step" in q["sql"]]
    assert searches and not any("LIKE" in sql or "UPPER(" in sql for sql in searches)
