"""Request bodies: JSON holding only text PostgreSQL can store. It holds no NUL character
in any text or jsonb value, and no lone surrogate (`"\\ud800"`: a valid JSON escape, but
no Unicode character, so it cannot be encoded as UTF-8); either one reaching a query
would fail with a 500, so a body holding one is refused up front, as the site's
middleware refuses a NUL in a path, query or form."""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest
from ninja import Schema
from ninja.parser import Parser
from pydantic import ConfigDict

from dashboard.api.problems import ApiProblem

_SURROGATE = re.compile("[\ud800-\udfff]")


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "Request refused: it contains a NUL character."
    if not text.isascii() and _SURROGATE.search(text):
        return (
            "Request refused: it contains a lone surrogate (a \\ud800-\\udfff escape without "
            "its pair), which is no Unicode character; send the text as UTF-8."
        )
    return None


def _refusal(value: Any) -> str | None:
    """Why `value` holds text PostgreSQL cannot store, if it does. Walked with a stack, not
    recursion: a body the JSON parser accepts may nest deeper than Python's recursion limit."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if refusal := _unstorable(item):
                return refusal
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


class Body(Schema):
    """A request body: a field its endpoint does not know is a 400 naming it, not ignored
    (a typo such as `new_run_idd` would act on the default: a restart with a random id)."""

    model_config = ConfigDict(extra="forbid")


class StorableJsonParser(Parser):
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
        if refusal := _refusal(data):
            raise ApiProblem(400, refusal)
        return data
