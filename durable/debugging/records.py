"""Model rows as plain JSON records, field by field from the model's own metadata.

Generic on purpose: a column another change adds (an input hash, a flag) is exported
without this module knowing it; import reads only what `export_schema` lists.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import models


def to_record(instance: models.Model, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every concrete column of `instance` (foreign keys by their `<name>_id`), JSON-ready."""
    record: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.attname in exclude or field.name in exclude:
            continue
        record[field.attname] = _encode(field, getattr(instance, field.attname))
    return record


def _encode(field: models.Field, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and _holds_json_text(field):
        return json.loads(value)
    return value


def _holds_json_text(field: models.Field) -> bool:
    """A text column that stores JSON (payload columns kept as text rather than jsonb)."""
    return not isinstance(field, models.JSONField) and field.name in JSON_TEXT_COLUMNS


JSON_TEXT_COLUMNS = {"input", "output", "error", "tags", "detail", "payload", "value"}
