"""Reading the API's own OpenAPI schema: operations, their inputs, their documented answers."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from jsonschema import Draft202012Validator

from dashboard.api import api

KNOWN = {"run_id": "r-1", "name": "api-sched", "executor_id": "api-exec", "reason": "test",
         "job_id": "00000000-0000-0000-0000-000000000000"}  # fmt: skip


@functools.cache
def schema() -> dict[str, Any]:
    """As served: JSON (status codes as strings); built once (callers must not change it)."""
    return json.loads(json.dumps(api.get_openapi_schema()))


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation)
            for path, methods in schema()["paths"].items()
            for method, operation in methods.items()]  # fmt: skip


def body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    found = content.get("application/json", {}).get("schema")
    return {**found, "components": schema()["components"]} if found else None


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema()["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def example(node: dict[str, Any], name: str = "") -> Any:
    """A small valid instance of a schema: required fields only, known names filled in."""
    node = resolve(node)
    if "enum" in node:
        return node["enum"][0]
    if "anyOf" in node:
        return example(node["anyOf"][0], name)
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        return {key: example(properties[key], key) for key in node.get("required", [])}
    if kind == "array":
        return [example(node.get("items", {}), name)] if node.get("minItems") else []
    if kind == "integer":
        return max(node.get("minimum", 0), 0)
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if node.get("format") == "date-time":
        return "2030-01-01T00:00:00Z"
    if node.get("format") == "uuid":
        return KNOWN["job_id"]
    return KNOWN.get(name, "x")


def concrete(path: str, values: dict[str, str] | None = None) -> str:
    values = {**KNOWN, **(values or {})}
    return re.sub(r"\{(?:\w+:)?(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def media_type(response: Any) -> str:
    """The served Content-Type without its parameters (`; charset=utf-8`)."""
    return response["Content-Type"].split(";")[0].strip()


def documented(operation: dict[str, Any], response: Any) -> list[str]:
    """What is wrong with an answer (status, media type, body), measured against the
    operation's documentation."""
    responses, status = operation["responses"], response.status_code
    if str(status) not in responses:
        return [f"status {status} is not documented ({sorted(responses)})"]
    content, served = responses[str(status)]["content"], media_type(response)
    if served not in content:
        return [f"{status} is served as {served} but documented as {sorted(content)}"]
    body = response.json()
    answer = content[served]["schema"]
    validator = Draft202012Validator({**answer, "components": schema()["components"]})
    return [error.message for error in validator.iter_errors(body)]
