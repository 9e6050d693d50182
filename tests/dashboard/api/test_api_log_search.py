"""GET /api/runs?logs=…: the runs list's Logs search through the API (3+ characters)."""

from __future__ import annotations

from tests.dashboard.test_runs_log_search import logged


def test_the_api_lists_runs_by_their_logs_too(view_api):
    logged("log-api", "webhook from the bank timed out")
    logged("log-api-other", "all good")
    found = view_api.get("/runs", logs="TIMED OUT").json()
    assert [run["id"] for run in found["runs"]] == ["log-api"]
    refused = view_api.get("/runs", logs="ab")
    assert refused.status_code == 400 and "3 or more characters" in refused.content.decode()


def test_the_api_refuses_log_text_with_nothing_to_index(view_api):
    refused = view_api.get("/runs", logs="---")
    assert refused.status_code == 400 and "letters or digits" in refused.content.decode()
