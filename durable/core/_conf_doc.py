"""docs/settings.md's table, made from durable/core/conf.py: each setting's default and the
comment above it. `python -m durable.core._conf_doc` rewrites the table; a test checks it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from durable.core import conf

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
_ENTRY = re.compile(r'^\s*"(DURABLE_\w+)":\s*(.*?),?\s*$')


def documented_settings() -> list[tuple[str, str, str]]:
    """(name, default as written, meaning) for each DEFAULTS entry, in file order."""
    rows, comment = [], []
    for line in Path(conf.__file__).read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("# "))
        elif match := _ENTRY.match(line):
            rows.append((match.group(1), match.group(2), " ".join(comment)))
            comment = []
        else:
            comment = []
    return rows


def settings_table() -> str:
    lines = ["| setting | default | meaning |", "|---|---|---|"]
    for name, default, meaning in documented_settings():
        meaning = meaning.replace("|", "\\|")
        lines.append(f"| `{name}` | `{default}` | {meaning} |")
    return "\n".join(lines)


def rewrite(doc: Path) -> None:
    """Replace the text between the markers with the current table."""
    text = doc.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{START}\n{settings_table()}\n{END}{tail}")


if __name__ == "__main__":
    rewrite(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/settings.md"))
