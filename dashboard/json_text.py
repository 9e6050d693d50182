"""JSON typed into a form, parsed as PostgreSQL will store it: a clear ValidationError for
text that is not JSON, nested too deeply, holds an integer past Python's 4,300-digit limit,
or NaN / Infinity / 1e400 (which `jsonb` refuses) — never an exception that becomes a 500."""

from __future__ import annotations

import json
import math
from typing import Any

from django import forms


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotStorable(text)
    return value


class _NotStorable(ValueError):
    pass


def _refuse_constant(text: str) -> Any:
    raise _NotStorable(text)


def parse(text: str, what: str, finite_only: bool = True) -> Any:
    """The value `text` holds; `what` names it in the error ("The output", "The input").
    `finite_only=False` lets NaN and Infinity through, for an engine call that refuses
    them itself (and audits the refusal)."""
    strict: dict[str, Any] = (
        {"parse_float": _finite, "parse_constant": _refuse_constant} if finite_only else {}
    )
    try:
        return json.loads(text, **strict)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"{what} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "strings need double quotes."
        ) from None
    except RecursionError:
        raise forms.ValidationError(f"{what} is nested too deeply to store.") from None
    except _NotStorable as exc:
        raise forms.ValidationError(
            f"{what} is not valid JSON: {str(exc)[:20]} cannot be stored (no NaN, Infinity "
            "or numbers beyond ±1.8e308)."
        ) from None
    except ValueError:  # an integer past Python's 4,300-digit limit
        raise forms.ValidationError(
            f"{what} has a number with too many digits (over 4,300); store it as a string."
        ) from None
