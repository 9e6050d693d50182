"""A method a path does not serve is answered like every other API error: a JSON problem
(405), with the Allow header naming the methods the path does serve; never Django's
plain-text 405."""

from __future__ import annotations

import re

import pytest

from dashboard.api.problems import CONTENT_TYPE
from tests.dashboard.api import schema_tools

PATHS: dict[str, set[str]] = {}
for _method, _path, _ in schema_tools.operations():
    PATHS.setdefault(_path, set()).add(_method.upper())


def _pattern(path: str) -> str:
    """A schema path as a regex: a run id may hold "/" (its route takes a path), a job id
    is a UUID."""
    pattern = re.escape(path).replace(r"\{run_id\}", ".+")
    pattern = pattern.replace(r"\{job_id\}", "[0-9a-f-]{36}")
    return re.sub(r"\\\{\w+\\\}", "[^/]+", pattern)


def _served_at(url: str) -> set[str]:
    """The methods of every route whose path matches `url` (`runs/{run_id}` matches
    `runs/actions/preview` too: a run may have that id)."""
    return {method for path, methods in PATHS.items() for method in methods
            if re.fullmatch(_pattern(path), url)}  # fmt: skip


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_wrong_method_is_a_json_problem_with_the_allowed_methods(operator_api, path):
    url = schema_tools.concrete(path)
    allowed = _served_at(url)
    wrong = next(method for method in ("DELETE", "PUT", "PATCH") if method not in allowed)
    response = operator_api.client.generic(wrong, url, headers=operator_api.headers)
    assert response.status_code == 405
    assert response["Content-Type"] == CONTENT_TYPE
    assert set(response["Allow"].split(", ")) == allowed
    problem = response.json()
    assert (problem["status"], problem["title"]) == (405, "Method Not Allowed")
    assert wrong in problem["detail"] and all(method in problem["detail"] for method in allowed)


def test_a_wrong_method_needs_no_token_to_be_told_so(anonymous_api):
    response = anonymous_api.client.delete("/api/runs")
    assert response.status_code == 405 and response["Content-Type"] == CONTENT_TYPE
