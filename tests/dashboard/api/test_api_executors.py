"""Executors over the API: listed, drained and undrained; an executor that is not there is a
404 that says how to list the ones that are."""

from __future__ import annotations

import pytest

from durable.models import AuditEntry, Executor


@pytest.mark.parametrize("action", ["drain", "undrain"])
def test_an_unknown_executor_is_a_404_saying_how_to_list_executors(operator_api, action):
    response = operator_api.post(
        f"/executors/actions/{action}", {"executor_id": "thread-gone", "reason": "deploy"}
    )
    assert response.status_code == 404, response.content
    detail = response.json()["detail"]
    assert "no executor 'thread-gone'" in detail
    assert "GET /api/executors lists them" in detail
    assert not AuditEntry.objects.exists()


def test_a_known_executor_is_drained_and_audited(operator_api, operate_token):
    Executor.objects.create(id="celery:host:9", kind="celery", hostname="host", pid=9)
    body = {"executor_id": "celery:host:9", "reason": "deploy"}
    response = operator_api.post("/executors/actions/drain", body)
    assert response.status_code == 200, response.content
    assert Executor.objects.get(id="celery:host:9").draining
    listed = operator_api.get("/executors").json()
    assert [row["draining"] for row in listed if row["id"] == "celery:host:9"] == [True]
    entry = AuditEntry.objects.get(action="drain")
    assert entry.actor == f"owner via API token {operate_token.token.prefix}"
