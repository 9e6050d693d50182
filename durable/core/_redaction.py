"""Which names hold secrets (DURABLE_STACK_REDACT): local variables and dict keys in live stacks,
`name=value` pairs in kept step log lines.

One setting for both, so an operator tunes one list. Matching is by substring, any case:
"key" also hides "api_key" and "private_key" (and "monkey": hiding too much is the safe side).
"""

from __future__ import annotations

import re
from functools import lru_cache

from durable.core.conf import settings

REDACTED = "<redacted>"


def secret_name() -> re.Pattern[str] | None:
    """The pattern a secret's name matches (None when the setting lists nothing)."""
    return _compile(tuple(settings.DURABLE_STACK_REDACT))


def is_secret(name: object) -> bool:
    pattern = secret_name()
    return bool(pattern and isinstance(name, str) and pattern.search(name))


def redact_message(message: str) -> str:
    """`password=hunter2`, `token: abc`, `"api_key": "abc"` → the value replaced; cheap (one
    regex pass, run only on records a step attempt keeps)."""
    pattern = _pairs(tuple(settings.DURABLE_STACK_REDACT))
    return pattern.sub(rf"\g<1>{REDACTED}", message) if pattern else message


@lru_cache(maxsize=8)
def _compile(words: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = [re.escape(word) for word in words if word]
    return re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None


@lru_cache(maxsize=8)
def _pairs(words: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = [re.escape(word) for word in words if word]
    if not alternatives:
        return None
    # A name starts where no name character precedes it, and is matched atomically up to its
    # end (its first secret word found lazily): a word that is not followed by `=` or `:` is
    # given up once, in one pass over it. An unanchored `[\w.-]*word[\w.-]*` backtracked
    # from every position of a long word: 20 KB of letters cost ~30 s in the step's thread.
    name = rf"(?<![\w.-])(?>[\w.-]*?(?:{'|'.join(alternatives)})[\w.-]*+)"
    return re.compile(
        rf"""(["']?{name}["']?\s*[=:]\s*(?:bearer\s+|basic\s+)?)("[^"]*"|'[^']*'|[^\s,;&}}]+)""",
        re.IGNORECASE,
    )
