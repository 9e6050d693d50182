"""Request bodies: JSON without NUL characters. PostgreSQL can hold a NUL in no text or
jsonb value, so one that reached a query would fail with a 500; it is refused up front,
as the site's middleware refuses one in a path, query or form."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser

from dashboard.api.problems import ApiProblem


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class NoNulJsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError):
            raise ApiProblem(400, "The body is not valid JSON.") from None
        if _has_nul(data):
            raise ApiProblem(400, "Request refused: it contains a NUL character.")
        return data
