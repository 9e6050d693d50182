"""Compare two runs of a workflow: every place their inputs, outputs, errors or durations
part ways, step by step.

By default a failed run is compared with the last success of its workflow whose input has
the same shape, the quickest answer to "what is different about this one?".
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
    same_steps: int  # steps whose name, input, status, output and error are all equal
    # every difference, in run order
    differences: list[Difference] = dataclasses.field(default_factory=list)

    @property
    def difference(self) -> Difference | None:
        """The first difference (None when the runs agree)."""
        return self.differences[0] if self.differences else None

    def render(self) -> str:
        head = f"compare {self.run_a} with {self.run_b}"
        if not self.differences:
            return f"{head}: inputs and outputs of all {self.same_steps} step(s) are equal"
        places = len({d.where for d in self.differences})
        lines = [f"{head}: {self.same_steps} step(s) equal; {len(self.differences)} "
                 f"difference(s) in {places} place(s)"]  # fmt: skip
        for diff in self.differences:
            names = f" ({diff.step_a or '(none)'} / {diff.step_b or '(none)'})"
            lines.append(f"{diff.where}{names if diff.step_a or diff.step_b else ''}: {diff.field}")
            lines += [f"  {c.path}: {_text(c.a)}  ->  {_text(c.b)}" for c in diff.changes]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        differences = [
            {**d.__dict__, "changes": [c.__dict__ for c in d.changes]} for d in self.differences
        ]
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "same_steps": self.same_steps,
            "difference": differences[0] if differences else None,
            "differences": differences,
        }


def _text(value: Any) -> str:
    return "(missing)" if value is MISSING else json.dumps(value, ensure_ascii=False)


SHAPE_CANDIDATES = 200  # recent successes looked at for one with the same input shape
# a step's duration differs when it took over SLOWER_RATIO times as long, and SLOWER_MS more
SLOWER_RATIO, SLOWER_MS = 2.0, 100.0


def last_success_of(run: Run) -> Run:
    """The workflow's last success whose input has the same shape (keys and value types) as
    the run's; else its last success."""
    successes = (
        Run.objects.filter(workflow=run.workflow, status=RunStatus.SUCCESS)
        .exclude(id=run.id)
        .order_by("-finished_at", "-id")
    )
    candidates = list(successes[:SHAPE_CANDIDATES])
    if not candidates:
        raise NothingToCompare(
            f"workflow {run.workflow} has no successful run to compare {run.id} with; "
            "name the second run: compare RUN_A RUN_B"
        )
    wanted = shape(run.input)
    return next((other for other in candidates if shape(other.input) == wanted), candidates[0])


def shape(value: Any) -> Any:
    """A JSON value's structure without its values: dict keys, list item shapes, types."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def compare_runs(run_a: str, run_b: str | None = None) -> Comparison:
    """Every difference between two runs, step by step (default B: the workflow's last
    success with the same input shape)."""
    a = get_run(run_a)
    b = get_run(run_b) if run_b else last_success_of(a)
    comparison = Comparison(a.id, b.id, 0)
    if a.input != b.input:
        comparison.differences.append(
            Difference("run input", "input", changes=diff(a.input, b.input))
        )
    steps_a = list(Step.objects.of_run(a).order_by("position"))
    steps_b = list(Step.objects.of_run(b).order_by("position"))
    for position in range(max(len(steps_a), len(steps_b))):
        step_a = steps_a[position] if position < len(steps_a) else None
        step_b = steps_b[position] if position < len(steps_b) else None
        found = _step_differences(position, step_a, step_b)
        comparison.differences += found
        comparison.same_steps += not found
    return comparison


def _step_differences(position: int, a: Step | None, b: Step | None) -> list[Difference]:
    where = f"step {position}"
    names = (a.name if a else "", b.name if b else "")
    if a is None or b is None or a.name != b.name:
        return [Difference(where, "name", *names)]
    found = []
    for attribute in ("input", "status", "output", "error"):
        value_a, value_b = getattr(a, attribute), getattr(b, attribute)
        if attribute == "error":
            value_a, value_b = _error_summary(value_a), _error_summary(value_b)
        if value_a != value_b:
            found.append(Difference(where, attribute, *names, changes=diff(value_a, value_b)))
    if _much_longer(a.duration_ms, b.duration_ms):
        duration = [Change("$", round(a.duration_ms, 1), round(b.duration_ms, 1))]
        found.append(Difference(where, "duration", *names, changes=duration))
    return found


def _much_longer(a_ms: float | None, b_ms: float | None) -> bool:
    if a_ms is None or b_ms is None:
        return False
    low, high = sorted((a_ms, b_ms))
    return high - low > SLOWER_MS and high > SLOWER_RATIO * low


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
