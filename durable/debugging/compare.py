"""Compare two runs of a workflow: the first place their inputs or outputs part ways.

By default a failed run is compared with the last success of its workflow, the quickest
answer to "what is different about this one?".
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from durable.debugging.export import get_run
from durable.errors import DurableError
from durable.models import Run, RunStatus, Step


class NothingToCompare(DurableError):
    """No second run was given and the workflow has no other successful run."""


@dataclass(frozen=True)
class Change:
    path: str
    a: Any
    b: Any


@dataclass
class Difference:
    where: str  # "run input", or "step N"
    field: str  # what differs: input, name, status, output, error
    step_a: str = ""
    step_b: str = ""
    changes: list[Change] = dataclasses.field(default_factory=list)  # `field` is a str here


@dataclass
class Comparison:
    run_a: str
    run_b: str
    same_steps: int
    difference: Difference | None

    def render(self) -> str:
        head = f"compare {self.run_a} with {self.run_b}"
        if self.difference is None:
            return f"{head}: inputs and outputs of all {self.same_steps} step(s) are equal"
        diff = self.difference
        lines = [
            head,
            f"{self.same_steps} step(s) equal; first difference at {diff.where}: {diff.field}",
        ]
        if diff.step_a or diff.step_b:
            lines.append(
                f"  step A: {diff.step_a or '(none)'}\n  step B: {diff.step_b or '(none)'}"
            )
        lines += [f"  {c.path}: {_text(c.a)}  ->  {_text(c.b)}" for c in diff.changes]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        difference = None
        if self.difference is not None:
            difference = {**self.difference.__dict__}
            difference["changes"] = [c.__dict__ for c in self.difference.changes]
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "same_steps": self.same_steps,
            "difference": difference,
        }


def _text(value: Any) -> str:
    return "(missing)" if value is MISSING else json.dumps(value, ensure_ascii=False)


def last_success_of(run: Run) -> Run:
    other = (
        Run.objects.filter(workflow=run.workflow, status=RunStatus.SUCCESS)
        .exclude(id=run.id)
        .order_by("-finished_at", "-id")
        .first()
    )
    if other is None:
        raise NothingToCompare(
            f"workflow {run.workflow} has no successful run to compare {run.id} with; "
            "name the second run: compare RUN_A RUN_B"
        )
    return other


def compare_runs(run_a: str, run_b: str | None = None) -> Comparison:
    """The first difference between two runs (default B: the workflow's last success)."""
    a = get_run(run_a)
    b = get_run(run_b) if run_b else last_success_of(a)
    if a.input != b.input:
        return Comparison(
            a.id, b.id, 0, Difference("run input", "input", changes=diff(a.input, b.input))
        )
    steps_a = list(Step.objects.filter(run_id=a.id).order_by("position"))
    steps_b = list(Step.objects.filter(run_id=b.id).order_by("position"))
    for position in range(max(len(steps_a), len(steps_b))):
        step_a = steps_a[position] if position < len(steps_a) else None
        step_b = steps_b[position] if position < len(steps_b) else None
        difference = _step_difference(position, step_a, step_b)
        if difference is not None:
            return Comparison(a.id, b.id, position, difference)
    return Comparison(a.id, b.id, len(steps_a), None)


def _step_difference(position: int, a: Step | None, b: Step | None) -> Difference | None:
    where = f"step {position}"
    names = (a.name if a else "", b.name if b else "")
    if a is None or b is None or a.name != b.name:
        return Difference(where, "name", *names)
    for attribute in ("input", "status", "output", "error"):
        value_a, value_b = getattr(a, attribute), getattr(b, attribute)
        if attribute == "error":
            value_a, value_b = _error_summary(value_a), _error_summary(value_b)
        if value_a != value_b:
            return Difference(where, attribute, *names, changes=diff(value_a, value_b))
    return None


def _error_summary(error: dict | None) -> dict | None:
    return None if not error else {"type": error.get("type"), "message": error.get("message")}


MISSING = object()


def diff(a: Any, b: Any, path: str = "$") -> list[Change]:
    """Leaf-level changes between two JSON values, with JSONPath-like paths."""
    if isinstance(a, dict) and isinstance(b, dict):
        changes = []
        for key in [*a, *(key for key in b if key not in a)]:
            changes += diff(a.get(key, MISSING), b.get(key, MISSING), f"{path}.{key}")
        return changes
    if isinstance(a, list) and isinstance(b, list):
        changes = []
        for index in range(max(len(a), len(b))):
            item_a = a[index] if index < len(a) else MISSING
            item_b = b[index] if index < len(b) else MISSING
            changes += diff(item_a, item_b, f"{path}[{index}]")
        return changes
    return [] if a == b else [Change(path, a, b)]
