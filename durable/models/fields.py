"""A JSON column that keeps the text that was written (PostgreSQL `json`, not `jsonb`).

`jsonb` sorts keys and normalises numbers (`1e16` comes back as an int), so a replayed
value would differ from the one the first run returned. Payloads that are replayed
(inputs, outputs, errors, messages, events) live in `json` columns; `->`/`->>` and
`::text` still work on them, containment (`@>`) and equality do not.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from psycopg.types.json import Json


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class JSONTextField(models.JSONField):
    """A JSONField stored as `json`: what is read back is the text that was written."""

    def db_type(self, connection: Any) -> str:
        return "json"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return value  # psycopg decodes `json` itself (json.loads: key order, number types kept)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if hasattr(value, "as_sql"):
            return value
        return Json(value, dumps=_dumps)  # sent as `json`, never cast through `jsonb`
