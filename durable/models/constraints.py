"""CHECK conditions for the columns of fixed choices that every checkpoint and run writes.

PostgreSQL reads a CHECK constraint back from its stored text and plans it again for every
INSERT or UPDATE statement, prepared or not. `status IN ('A', 'B', …)`, as Django writes a
`__in` condition, is stored as an array built from one constant per choice, each cast from
varchar: on durable_step its two checks cost each checkpoint 24–30 µs of server time (a
single-row INSERT+COMMIT costs 27–45 µs on the same server). The same rules as one array
constant each, `status::text = ANY('{A,B,…}'::text[])`, cost about 14 µs
(docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import F, Lookup, Q


class OneOf(Lookup):
    """`lhs::text = ANY('{…}'::text[])`: the value is one of the choices given as the right
    hand side, compared as text (what a choices column holds)."""

    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        return _array_literal(self.rhs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"({lhs})::text = ANY(%s::text[])", [*lhs_params, self.rhs]


def one_of(field: str, choices: Iterable[str]) -> Q:
    """A condition for `CheckConstraint`: `field` holds one of `choices` (text, at least one:
    a check no value passes would refuse every row)."""
    values = list(choices)
    if not values or not all(isinstance(value, str) for value in values):
        raise ValueError(f"one_of({field!r}): choices must be one or more strings, not {values!r}")
    return Q(OneOf(F(field), values))


def _array_literal(values: Iterable[str]) -> str:
    """PostgreSQL's text form of a text array: every element quoted, so any value reads back
    as written (commas, braces, quotes, backslashes)."""
    quoted = (value.replace("\\", "\\\\").replace('"', '\\"') for value in values)
    return "{" + ",".join(f'"{value}"' for value in quoted) + "}"
