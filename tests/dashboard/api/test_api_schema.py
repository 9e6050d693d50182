"""The OpenAPI schema is valid, served as JSON, and every operation in it answers as it
documents (status and body shape), with the browsable docs served from the package."""

from __future__ import annotations

import pytest
from django.test import Client
from openapi_spec_validator import validate

import durable
from dashboard.api.problems import CONTENT_TYPE, ERRORS
from durable.core import store
from durable.schedules import _declared as declared_schedules
from tests.dashboard.api import schema_tools
from tests.dashboard.conftest import make_failed_run
from tests.engine.test_dynamic_schedules import ping


def test_the_served_schema_is_a_valid_openapi_document(db):
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    validate(response.json())
    assert response.json() == schema_tools.schema()


def test_every_operation_documents_its_problems_and_a_bearer_scheme():
    for method, path, operation in schema_tools.operations():
        assert {"400", "401", "403", "429"} <= set(operation["responses"]), (method, path)
        assert operation.get("security"), (method, path)


@pytest.fixture
def world(db, settings, monkeypatch):
    """Something for every endpoint to find: a failed run, a schedule, an executor."""
    settings.DURABLE_EXECUTOR = "external"
    monkeypatch.setattr(declared_schedules, "_schedules", {})
    make_failed_run(id="r-1")
    durable.schedules.create("api-sched", ping, cron="0 * * * *")
    store.heartbeat(executor_id="api-exec", kind="thread", hostname="h", pid=1, workflows=[])


@pytest.mark.parametrize(("method", "path", "operation"), schema_tools.operations(),
                         ids=lambda value: value if isinstance(value, str) else "")  # fmt: skip
def test_every_operation_answers_as_documented(world, operator_api, method, path, operation):
    body = schema_tools.body_schema(operation)
    url = schema_tools.concrete(path)
    if method == "GET":
        response = operator_api.get(url)
    else:
        response = operator_api.post(url, schema_tools.example(body) if body else {})
    assert response.status_code < 500, response.content
    assert schema_tools.documented(operation, response) == []


def test_every_documented_problem_says_application_problem_json(db):
    served = Client().get("/api/openapi.json").json()
    for path, methods in served["paths"].items():
        for method, operation in methods.items():
            for status in ERRORS:
                content = operation["responses"][str(status)]["content"]
                assert list(content) == [CONTENT_TYPE], (method, path, status)
            assert list(operation["responses"]["200"]["content"]) == ["application/json"]


@pytest.mark.parametrize(("method", "path", "operation"), schema_tools.operations(),
                         ids=lambda value: value if isinstance(value, str) else "")  # fmt: skip
def test_every_operation_serves_its_problems_as_documented(
    world, anonymous_api, view_api, operator_api, method, path, operation
):
    url = schema_tools.concrete(path)
    if method == "GET":
        answers = {401: anonymous_api.get(url)}
    else:
        answers = {401: anonymous_api.post(url), 403: view_api.post(url),
                   400: operator_api.post(url, "{")}  # fmt: skip
    for status, answer in answers.items():
        assert answer.status_code == status, answer.content
        assert answer["Content-Type"] == CONTENT_TYPE
        assert schema_tools.documented(operation, answer) == []


def test_the_docs_page_serves_swagger_from_the_package_under_the_csp(owner_client):
    page = owner_client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "https://" not in html and "<script>" not in html.replace(" ", "")
    assert "script-src 'self'" in page["Content-Security-Policy"]
    for asset in ("swagger-ui-bundle.js", "swagger-ui-init.js", "swagger-ui.css"):
        url = next(part.split('"')[0] for part in html.split('="') if part.endswith(asset + '"')
                   or part.split('"')[0].endswith(asset))  # fmt: skip
        assert owner_client.get(url).status_code == 200, url


def test_the_docs_page_needs_a_login(client, db):
    assert client.get("/api/docs").status_code == 302
