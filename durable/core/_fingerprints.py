"""Error messages reduced to their shape, so failures group the way error trackers group.

"852 rows of churn have null labels" and "95 rows of clickstream have null labels" are one
failure with different data: every variable part (numbers, quoted values, ids, hex, UUIDs,
timestamps, paths, URLs, e-mail addresses and the bare name that a count or a kind of thing
is about) becomes a placeholder, and the words that say what went wrong stay.
"""

from __future__ import annotations

import re

# Order matters: the wider patterns go first so their digits are not numbers on their own
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`|‘[^’]*’|“[^”]*”"), "<str>"),
    (re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I), "<url>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b"), "<email>"),
    (
        re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"),
        "<ts>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\b"), "<ts>"),
    (re.compile(r"(?<![\w/])(~|\.{1,2})?(/[\w.@+-]+){2,}/?|\b[A-Z]:\\[^\s]+"), "<path>"),
    (
        re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I),
        "<hex>",
    ),
    # identifier-shaped words: with digits, underscores, inner dots/dashes/colons, camelCase
    (re.compile(r"\b(?=[\w.:-]*[a-z])(?=[\w.:-]*[\d_])[\w][\w.:-]*\w\b", re.I), "<id>"),
    (re.compile(r"\b[a-z]+[A-Z]\w*\b|\b(?=[\w.:-]*[A-Za-z])\w+(?:[.:-]\w+)+\b"), "<id>"),
    (re.compile(r"[-+]?\b\d+(?:[.,]\d+)*\b"), "<n>"),
]

# what a count or a noun of this list is about is a bare name: "<n> rows of churn",
# "table churn", "for customer acme"
_NOUNS = (
    "table|column|dataset|queue|topic|user|customer|account|tenant|bucket|model|key|field|"
    "host|workflow|file|job|task|project|region|index|schema|database|partition|shard|service"
)
_VERBS = "is|are|was|were|has|have|not|does|did|can|could|must"
_BARE = [
    re.compile(r"(<n> \w+ (?:of|for|in|from|on|at) )(?!<)[A-Za-z]\w*"),
    re.compile(rf"(\b(?:{_NOUNS})s? )(?!<)(?!(?:{_VERBS})\b)[A-Za-z]\w*", re.I),
]


def normalize(message: str) -> str:
    """The message with its variable parts replaced by placeholders (first 500 characters)."""
    text = message[:2000]
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    for pattern in _BARE:
        text = pattern.sub(r"\1<id>", text)
    return re.sub(r"\s+", " ", text).strip()[:500]
