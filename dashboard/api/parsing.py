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
    """Walked with a stack, not recursion: a body the JSON parser accepts may nest deeper
    than Python's recursion limit."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class NoNulJsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        try:
            data = json.loads(request.body)
        except json.JSONDecodeError as exc:
            where = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
            raise ApiProblem(400, f"The body is not valid JSON ({where}).") from None
        except RecursionError:
            raise ApiProblem(400, "The body is not valid JSON: it is nested too deeply.") from None
        except ValueError:  # bytes that are not UTF-8, or an integer past 4,300 digits
            raise ApiProblem(
                400, "The body is not valid JSON: send UTF-8 text, numbers under 4,300 digits."
            ) from None
        if _has_nul(data):
            raise ApiProblem(400, "Request refused: it contains a NUL character.")
        return data
