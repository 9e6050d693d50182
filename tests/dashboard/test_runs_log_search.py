"""The runs list finds runs by what their steps logged (the "Logs" search): message text only,
any case, 3 characters or more, through a trigram index on the kept messages."""

from __future__ import annotations

import pytest
from django.db import connection

from dashboard.queries.runs import RunFilter, filtered_runs
from durable.models import StepLog
from tests.dashboard.conftest import make_run

pytestmark = pytest.mark.django_db


def logged(run_id: str, *messages: str, attempt: int = 1) -> None:
    make_run(id=run_id)
    StepLog.objects.create(
        run_id=run_id, position=0, attempt=attempt,
        records=[{"at": "", "level": "INFO", "logger": "shop", "message": m} for m in messages],
    )  # fmt: skip


def test_runs_whose_step_logs_contain_the_text_are_listed_any_case(viewer_client):
    logged("log-hit", "charging order 7", "Card DECLINED by the bank")
    logged("log-miss", "charging order 8", "charged")
    make_run(id="log-none")

    page = viewer_client.get("/", {"logs": "declined by"}).content.decode()

    assert "log-hit" in page and "log-miss" not in page and "log-none" not in page


def test_only_messages_are_searched_not_the_records_keys_or_levels():
    logged("log-level", "nothing to see")
    assert not filtered_runs(RunFilter(logs="level")).exists()
    assert not filtered_runs(RunFilter(logs="INFO")).exists()
    assert filtered_runs(RunFilter(logs="to se")).exists()


def test_a_run_with_many_matching_attempts_is_listed_once():
    logged("log-twice", "timeout talking to the bank")
    StepLog.objects.create(run_id="log-twice", position=0, attempt=2,
                           records=[{"message": "timeout again"}])  # fmt: skip
    assert list(filtered_runs(RunFilter(logs="timeout")).values_list("id", flat=True)) == [
        "log-twice"
    ]


def test_short_log_text_is_a_form_error_not_a_scan(viewer_client):
    logged("log-short", "ab")
    page = viewer_client.get("/", {"logs": "ab"}).content.decode()
    assert "3 or more characters" in page


def test_the_log_search_is_served_by_the_trigram_index(transactional_db):
    """On a table of more than a handful of lines, vacuumed and analyzed as autovacuum
    leaves it: on a tiny one any scan costs as little, and lines still in the GIN index's
    pending list make the planner count that list as read by every search."""
    logged("log-plan", "a needle in the logs")
    hay = make_run(id="log-hay")
    StepLog.objects.bulk_create(
        StepLog(run_id=hay.id, run_created_at=hay.created_at, position=position, attempt=1,
                records=[{"message": f"haystack line {position}"}])
        for position in range(2000)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE durable_steplog")
    query = filtered_runs(RunFilter(logs="needle")).values("id").query
    sql, params = query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        # the step log table is partitioned (docs/partitioning.md): the index's partitions
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'steplog_message_trgm'::regclass"
        )
        served_by = {row[0] for row in cursor.fetchall()}
    assert served_by and any(f"Index Scan on {name} " in plan for name in served_by), plan


@pytest.mark.parametrize("text", ["---", "a--", "%%%", "!?."])
def test_text_the_trigram_index_holds_nothing_of_is_a_form_error_not_a_scan(viewer_client, text):
    """Text with no trigram to look up (punctuation, or one letter against punctuation)
    would read every kept log line: it is refused, saying what to type."""
    logged("log-punct", f"divider {text} here")
    page = viewer_client.get("/", {"logs": text}).content.decode()
    assert "letters or digits" in page
    assert not filtered_runs(RunFilter(logs=text)).exists()


def test_a_short_word_against_punctuation_still_has_a_trigram_and_is_searched():
    logged("log-word", "state: ok-ish")
    assert filtered_runs(RunFilter(logs=": ok")).exists()


def test_input_search_text_with_no_trigram_matches_run_ids_only_and_says_so(viewer_client):
    make_run(id="dash-input", input={"args": ["-----"], "kwargs": {}})
    make_run(id="---")
    page = viewer_client.get("/", {"q": "---"}).content.decode()
    assert "dash-input" not in page and 'id="short-search"' in page
    assert list(filtered_runs(RunFilter(q="---")).values_list("id", flat=True)) == ["---"]
