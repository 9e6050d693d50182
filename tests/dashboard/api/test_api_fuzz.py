"""Schema-driven fuzzing: every operation in the OpenAPI schema, with bodies drawn from its
request schema or hostile JSON, query parameters and path segments
from hostile text. No answer is a server error, and every answer is a JSON document.

DURABLE_API_FUZZ_EXAMPLES sets the examples per test (default 600 in the full tier: about a
minute here; a tenth in the fast tier, see tests/tiers.py).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import durable
from durable.core import store
from durable.models import Run
from durable.schedules import _declared as declared_schedules
from tests.dashboard.api import schema_tools
from tests.dashboard.conftest import make_failed_run
from tests.dashboard.test_security_fuzz import HOSTILE
from tests.engine.test_dynamic_schedules import ping
from tests.tiers import examples

EXAMPLES = examples(600, "DURABLE_API_FUZZ_EXAMPLES")
OPERATIONS = schema_tools.operations()
# lone surrogates: valid JSON escapes ("\\ud800"), no Unicode character; only a JSON body
# carries them (a form or a URL cannot)
SURROGATES = ["\ud800", "a\udfffb", "\udc00" * 3]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30), st.sampled_from(
    sorted(set(schema_tools.KNOWN.values()))))  # fmt: skip
BODY_TEXT = st.one_of(TEXT, st.sampled_from(SURROGATES))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | BODY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(BODY_TEXT, inner, max_size=4),
    max_leaves=12,
)


SCALARS = {
    "integer": st.one_of(st.integers(-1, 3), st.integers(), st.just(2**63)),
    "number": st.one_of(st.floats(allow_nan=False), st.just(1e308), st.just(0.0)),
    "boolean": st.booleans(),
    "null": st.none(),
}


def from_schema(node: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
    """Values the schema allows, their strings often hostile, their numbers often extreme;
    each optional property sent or not."""
    node = schema_tools.resolve(node)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "anyOf" in node:
        return st.one_of([from_schema(option, name) for option in node["anyOf"]])
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        if not properties:
            return st.dictionaries(BODY_TEXT, JSON, max_size=3)
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {key: from_schema(value, key) for key, value in properties.items() if key in required},
            optional={key: from_schema(value, key) for key, value in properties.items()
                      if key not in required},
        )  # fmt: skip
    if kind == "array":
        return st.lists(from_schema(node.get("items", {}), name), max_size=4)
    if kind in SCALARS:
        return SCALARS[kind]
    if node.get("format") == "date-time":
        return st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), BODY_TEXT)
    known = schema_tools.KNOWN.get(name)
    return (
        st.one_of(st.just(known), BODY_TEXT) if known else BODY_TEXT if kind == "string" else JSON
    )


BODIES: dict[str, st.SearchStrategy[Any]] = {}


def _body(operation: dict[str, Any]) -> st.SearchStrategy[Any]:
    if operation["operationId"] not in BODIES:
        BODIES[operation["operationId"]] = _new_body(operation)
    return BODIES[operation["operationId"]]


def _new_body(operation: dict[str, Any]) -> st.SearchStrategy[Any]:
    found = schema_tools.body_schema(operation)
    if found is None:
        return st.just({})
    fields = list(schema_tools.resolve(found).get("properties", {}))
    hostile = st.dictionaries(st.sampled_from(fields) if fields else BODY_TEXT, JSON, max_size=6)
    return st.one_of(from_schema(found), hostile, JSON)


@st.composite
def calls(draw) -> tuple[str, str, dict, Any]:
    method, path, operation = draw(st.sampled_from(OPERATIONS))
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
    url = schema_tools.concrete(path, {name: quote(draw(TEXT), safe="") for name in names
                                       if draw(st.booleans())})  # fmt: skip
    query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    params = {name: draw(TEXT) for name in draw(st.lists(st.sampled_from(query), unique=True))} \
        if query else {}  # fmt: skip
    return method, url, params, draw(_body(operation)) if method != "GET" else None


@pytest.fixture
def fuzz_world(db, settings, monkeypatch):
    settings.DURABLE_EXECUTOR = "external"  # nothing a fuzzed action starts runs here
    settings.DASHBOARD_API_RATE_LIMIT = 10**9
    monkeypatch.setattr(declared_schedules, "_schedules", {})
    make_failed_run(id="r-1")
    durable.schedules.create("api-sched", ping, cron="0 * * * *")
    store.heartbeat(executor_id="api-exec", kind="thread", hostname="h", pid=1, workflows=[])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(call=calls())
def test_no_call_causes_a_server_error(fuzz_world, operator_api, call):
    method, url, params, body = call
    if not Run.objects.filter(id="r-1").exists():  # a fuzzed delete went through
        make_failed_run(id="r-1")
    operator_api.client.raise_request_exception = False
    if method == "GET":
        response = operator_api.client.get(url, params, headers=operator_api.headers)
    else:
        raw = json.dumps(body)
        response = operator_api.client.post(url, raw, content_type="application/json",
                                            headers=operator_api.headers)  # fmt: skip
    assert response.status_code < 500, (method, url, params, body, response.content[:300])
    assert response["Content-Type"].startswith(("application/json", "application/problem+json"))


@settings(max_examples=EXAMPLES // 4, deadline=None, suppress_health_check=list(HealthCheck))
@given(call=st.sampled_from([op for op in OPERATIONS if op[0] == "POST"]),
       raw=st.one_of(st.sampled_from(HOSTILE), st.binary(max_size=40).map(
           lambda b: b.decode("latin-1"))))  # fmt: skip
def test_no_malformed_body_causes_a_server_error(fuzz_world, operator_api, call, raw):
    method, path, _ = call
    operator_api.client.raise_request_exception = False
    response = operator_api.client.post(schema_tools.concrete(path), raw,
                                        content_type="application/json",
                                        headers=operator_api.headers)  # fmt: skip
    assert response.status_code < 500, (path, raw[:100], response.content[:300])
