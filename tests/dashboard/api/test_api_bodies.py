"""Request bodies: JSON holding only text PostgreSQL can store. A body that is not JSON,
or holds a NUL character anywhere, is a 400 whose detail says which, before any endpoint
reads it."""

from __future__ import annotations

import pytest

NOT_JSON = ["{", "not json", "[1,]", '{"run_id": "r-1",}', "\xff\xfe", "9" * 5000, "[" * 5000]


@pytest.mark.parametrize("raw", NOT_JSON, ids=lambda raw: raw[:12])
def test_a_body_that_is_not_json_is_a_400_saying_so(operator_api, raw):
    response = operator_api.post("/runs/actions/resume", raw)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"].startswith("The body is not valid JSON")


def test_a_nul_character_anywhere_in_a_body_is_a_400_naming_it(operator_api):
    response = operator_api.post(
        "/bulk/preview", '{"action": "resume", "scope": "selected", "run_ids": ["a\\u0000"]}'
    )
    assert response.status_code == 400
    assert "NUL character" in response.json()["detail"]
