"""Request bodies: JSON holding only text PostgreSQL can store. A body that is not JSON,
or holds a NUL character anywhere, is a 400 whose detail says which, before any endpoint
reads it."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import make_failed_run

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


SURROGATES = [
    ("/runs/actions/preview", r'{"action": "resume", "run_ids": ["\ud800"]}'),
    ("/bulk/preview", r'{"action": "resume", "scope": "selected", "run_ids": ["\ud800"]}'),
    ("/bulk/preview", r'{"action": "resume", "scope": "matching", "filter": {"q": "\ud800"}}'),
    ("/bulk/preview", r'{"action": "cancel", "scope": "matching", "filter": {"tag": "a=\udfff"}}'),
    ("/runs/actions/fork",
     r'{"run_id": "r-1", "reason": "x", "from_step": 0, "input": {"kwargs": {"\ud800": 1}}}'),
    ("/runs/actions/resume", r'{"run_id": "r-1", "reason": "x", "extra": {"deep": [["\ud800"]]}}'),
]  # fmt: skip


@pytest.mark.parametrize(("path", "raw"), SURROGATES)
def test_a_lone_surrogate_anywhere_in_a_body_is_a_400_naming_it(operator_api, path, raw):
    """`"\\ud800"` is a valid JSON escape but no Unicode character: PostgreSQL (UTF-8)
    cannot take it as a query parameter, so one reaching a query was a 500."""
    make_failed_run(id="r-1")
    operator_api.client.raise_request_exception = False
    response = operator_api.post(path, raw)
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    assert "lone surrogate" in response.json()["detail"]


def test_paired_surrogates_and_other_non_ascii_text_are_not_refused(operator_api):
    body = '{"action": "resume", "scope": "matching", "filter": {"q": "caf\\u00e9 \\ud83d\\ude00"}}'
    response = operator_api.post("/bulk/preview", body)
    assert response.status_code == 200, response.content[:300]


def test_a_body_over_the_upload_limit_is_a_413_naming_the_limit(operator_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    operator_api.client.raise_request_exception = False
    body = '{"run_id": "r-1", "reason": "%s"}' % ("x" * 2_000)  # noqa: UP031
    response = operator_api.post("/runs/actions/resume", body)
    assert response.status_code == 413, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    assert "1,000 bytes" in response.json()["detail"]


def test_a_form_body_is_a_400_problem_saying_the_body_must_be_json(operator_api):
    """Multipart (`curl -F`) and urlencoded bodies are no JSON; the site's NUL check must
    not read them as a form first (that consumed the stream the API then read: a 500)."""
    client = operator_api.client
    client.raise_request_exception = False
    multipart = client.post(
        "/api/runs/actions/resume", {"run_id": "r-1", "reason": "x"}, headers=operator_api.headers
    )
    urlencoded = client.post(
        "/api/runs/actions/resume", "run_id=r-1&reason=x",
        content_type="application/x-www-form-urlencoded", headers=operator_api.headers,
    )  # fmt: skip
    for response in (multipart, urlencoded):
        assert response.status_code == 400, response.content[:300]
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["detail"].startswith("The body is not valid JSON")


def test_a_form_body_over_the_upload_limit_is_a_413_problem_not_html(operator_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    operator_api.client.raise_request_exception = False
    response = operator_api.client.post(
        "/api/runs/actions/resume", "a=" + "x" * 2_000,
        content_type="application/x-www-form-urlencoded", headers=operator_api.headers,
    )  # fmt: skip
    assert response.status_code == 413, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"


def test_too_many_query_parameters_is_a_400_problem_not_html(operator_api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    response = operator_api.get("/runs", **{f"p{i}": "1" for i in range(10)})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in response.json()["detail"]


UNKNOWN_FIELDS = [
    ("/runs/actions/restart", {"run_id": "r-1", "reason": "x", "new_run_idd": "again"}),
    ("/runs/actions/fork", {"run_id": "r-1", "reason": "x", "from_step": 0,
                            "input": {"args": [], "kwarg": {}}}),
    ("/runs/actions/preview", {"action": "resume", "run_ids": ["r-1"], "fromstep": 1}),
    ("/bulk/preview", {"action": "resume", "scope": "matching", "filter": {"stauts": "ERROR"}}),
    ("/executors/actions/drain", {"executor_id": "e-1", "reason": "x", "release_afer": 5}),
]  # fmt: skip


@pytest.mark.parametrize("path, body", UNKNOWN_FIELDS, ids=[p for p, _ in UNKNOWN_FIELDS])
def test_a_field_the_endpoint_does_not_know_is_a_400_naming_it(operator_api, path, body):
    """A typo (`new_run_idd`) would otherwise act on the default: a restart with a random id."""
    make_failed_run(id="r-1")
    response = operator_api.post(path, body)
    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert error["field"].split(".")[-1] in {"new_run_idd", "kwarg", "fromstep", "stauts",
                                             "release_afer"}  # fmt: skip
    assert "not" in error["message"].lower()


LOOSE_VALUES = [
    ("/runs/actions/fork", {"run_id": "r-1", "reason": "x", "from_step": 0, "input": [1, 2]},
     "input"),
    ("/runs/actions/fork", {"run_id": "r-1", "reason": "x", "from_step": True}, "from_step"),
    ("/runs/actions/preview", {"action": "fork", "run_ids": ["r-1"], "from_step": "1"},
     "from_step"),
    ("/runs/actions/preview", {"action": "resume", "run_ids": ["r" * 300]}, "run_ids.0"),
]  # fmt: skip


@pytest.mark.parametrize("path, body, field", LOOSE_VALUES, ids=[f for _, _, f in LOOSE_VALUES])
def test_a_value_of_the_wrong_kind_is_a_400_naming_its_field(operator_api, path, body, field):
    """Not read as something else: a list as an empty input, `true` as step 1, an id of 300
    characters as its first 200."""
    make_failed_run(id="r-1")
    response = operator_api.post(path, body)
    assert response.status_code == 400, response.content
    assert [error["field"] for error in response.json()["errors"]] == [field]
