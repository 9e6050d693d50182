"""Tokens for the API tests, and a client that sends one."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dashboard import tokens
from dashboard.api import api


def _full(path: str) -> str:
    return path if path.startswith("/api/") else f"/api{path}"


class TokenClient:
    """A test client that sends `Authorization: Bearer <secret>` and JSON bodies."""

    def __init__(self, secret: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def get(self, path: str, **params: Any):
        return self.client.get(_full(path), params, headers=self.headers)

    def post(self, path: str, body: Any = None, **headers: str):
        return self.client.post(_full(path), body if body is not None else {},
                                content_type="application/json",
                                headers={**self.headers, **headers})  # fmt: skip


@pytest.fixture
def operate_token(owner) -> tokens.NewToken:
    return tokens.create(owner, "ci-bot", "operate")


@pytest.fixture
def operator_api(operate_token) -> TokenClient:
    return TokenClient(operate_token.secret)


@pytest.fixture
def view_api(owner) -> TokenClient:
    return TokenClient(tokens.create(owner, "reader", "view").secret)


@pytest.fixture
def anonymous_api(db) -> TokenClient:
    return TokenClient(None)


def schema() -> dict[str, Any]:
    return api.get_openapi_schema()


def operations(method_filter=lambda method: True) -> list[tuple[str, str]]:
    """(method, path) of every operation in the schema."""
    return [
        (method.upper(), path)
        for path, methods in schema()["paths"].items()
        for method in methods
        if method_filter(method.upper())
    ]
