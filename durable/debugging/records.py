"""Model rows as plain JSON records and back, field by field from the model's own metadata.

Generic on purpose: a column another change adds (an input hash, a flag) travels through
export and import without this module knowing it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import models
from django.utils.dateparse import parse_datetime


def to_record(instance: models.Model, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every concrete column of `instance` (foreign keys by their `<name>_id`), JSON-ready."""
    record: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.attname in exclude or field.name in exclude:
            continue
        record[field.attname] = _encode(field, getattr(instance, field.attname))
    return record


def from_record(model: type[models.Model], record: dict[str, Any]) -> models.Model:
    """An unsaved instance of `model` from a record; unknown keys (newer formats) are ignored."""
    values = {}
    for field in model._meta.concrete_fields:
        if field.attname in record:
            values[field.attname] = _decode(field, record[field.attname])
    return model(**values)


def _encode(field: models.Field, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and _holds_json_text(field):
        return json.loads(value)
    return value


def _decode(field: models.Field, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, models.DateTimeField):
        return parse_datetime(value) if isinstance(value, str) else value
    if _holds_json_text(field):
        return json.dumps(value)
    return value


def _holds_json_text(field: models.Field) -> bool:
    """A text column that stores JSON (payload columns kept as text rather than jsonb)."""
    return not isinstance(field, models.JSONField) and field.name in JSON_TEXT_COLUMNS


JSON_TEXT_COLUMNS = {"input", "output", "error", "tags", "detail", "payload", "value"}
