"""Replay previews: before a resume, restart or fork, which recorded steps run again.

A step that is not a `@durable.transaction` (whose effects commit with its checkpoint)
may repeat its side effects when it runs again, unless it is declared
`@durable.step(idempotent=True)`; those are flagged. Steps the runs never reached are not
listed: they run for the first time, not again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max

from durable.core import _registry as registry
from durable.errors import DurableError, OperationRefused
from durable.models import HistoryQuerySet, Run, RunStatus, Step, StepKind, StepStatus
from durable.operations import _patching as patching
from durable.operations import fork_refusals
from durable.operations._resuming import resume_refusal

ACTIONS = ("resume", "restart", "fork")


@dataclass(frozen=True)
class RepeatedStep:
    position: int
    name: str
    kind: str
    flagged: bool  # its side effects may happen again
    why: str


@dataclass
class RunPreview:
    run_id: str
    steps: list[RepeatedStep] = field(default_factory=list)
    refused: str | None = None  # why the action would refuse this run (a fork, so far)


@dataclass
class Preview:
    action: str
    runs: list[RunPreview]

    def summary(self) -> list[dict[str, Any]]:
        """Per step name: how many runs will run it again, and whether that is a risk."""
        counts: Counter[tuple[str, str, bool, str]] = Counter()
        for run in self.runs:
            for step in {(s.name, s.kind, s.flagged, s.why) for s in run.steps}:
                counts[step] += 1
        return [
            {"step": name, "kind": kind, "runs": count, "flagged": flagged, "why": why}
            for (name, kind, flagged, why), count in sorted(
                counts.items(), key=lambda item: (not item[0][2], -item[1], item[0][0])
            )
        ]

    def lines(self, population: int | None = None) -> list[str]:
        """One sentence per step name, the risky ones first. When these runs are a sample
        of `population` runs, each count is scaled to the population and said as "about",
        with a last line that says so (a step only a few runs repeat may miss the sample)."""
        sampled = len(self.runs)
        scale = population / sampled if population and sampled and population > sampled else 1

        def runs(count: int) -> str:
            return f"about {_runs(round(count * scale))}" if scale > 1 else _runs(count)

        if not any(run.steps for run in self.runs):
            lines = [f"{self.action} of {_runs(population or sampled)}: no recorded step runs "
                     "again"]  # fmt: skip
        else:
            lines = [
                f"{runs(entry['runs'])} will run {entry['step']} again; {entry['why']}"
                for entry in self.summary()
            ]
        if scale > 1:
            lines.append(f"(from an even sample of {sampled:,} of {population:,} runs: a step "
                         "that few runs repeat may not show)")  # fmt: skip
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "runs": len(self.runs),
            "summary": self.summary(),
            "per_run": {
                run.run_id: [step.__dict__ for step in run.steps] for run in self.runs[:1000]
            },
            "refused": {run.run_id: run.refused for run in self.runs[:1000] if run.refused},
        }


def _runs(count: int) -> str:
    return f"{count:,} run{'s' if count != 1 else ''}"


def preview(
    action: str,
    run_ids: str | Iterable[str],
    from_step: int | None = None,
    *,
    patch: dict[Any, Any] | None = None,
) -> Preview:
    """What `action` (resume, restart or fork) would run again for these runs; a fork with a
    `patch` is checked and placed exactly as `operations.fork` places it (after the last
    patched step unless `from_step` is given), so the preview never differs from the act."""
    if action not in ACTIONS:
        raise DurableError(f"preview of {action!r}: choose one of {', '.join(ACTIONS)}")
    ids = [run_ids] if isinstance(run_ids, str) else list(dict.fromkeys(run_ids))
    refused = _refused_by_state(action, run_ids, ids)
    steps = Step.objects.of_runs(ids)  # from the partitions of the runs' days only
    if action == "fork":
        starts, fork_refused = _fork_starts(run_ids, ids, from_step, patch)
        refused.update(fork_refused)
    else:
        starts = _first_repeated_positions(action, steps, ids, from_step)
    for run_id in refused:
        starts[run_id] = None  # nothing of a refused run runs again
    registry.autodiscover()
    rows = steps.order_by("run_id", "position").values_list("run_id", "position", "name", "kind")
    repeated: dict[str, list[RepeatedStep]] = {run_id: [] for run_id in ids}
    for run_id, position, name, kind in rows:
        start = starts.get(run_id)
        if start is not None and position >= start:
            repeated[run_id].append(_judge(position, name, kind))
    if action == "resume":
        for run_id, position in _stopped_in_flight(steps, ids, starts).items():
            repeated[run_id].append(
                RepeatedStep(position, IN_FLIGHT, "unknown", True, IN_FLIGHT_WHY)
            )
    return Preview(
        action, [RunPreview(run_id, repeated[run_id], refused.get(run_id)) for run_id in ids]
    )


def _refused_by_state(action: str, given: str | Iterable[str], ids: list[str]) -> dict[str, str]:
    """Runs the action refuses whatever their history says, in its own words: one that does
    not exist (one id given as a string: raised, as the action raises it), and for a resume
    one whose status it does not resume."""
    statuses = dict(Run.objects.filter(id__in=ids).values_list("id", "status"))
    missing = [run_id for run_id in ids if run_id not in statuses]
    if isinstance(given, str) and missing:
        raise OperationRefused(given, "no such run")
    refused = dict.fromkeys(missing, "no such run")
    if action == "resume":
        for run_id, status in statuses.items():
            if status not in RunStatus.resumable():
                refused[run_id] = resume_refusal(status)
    return refused


def _fork_starts(
    given: str | Iterable[str], ids: list[str], from_step: int | None, patch: dict | None
) -> tuple[dict[str, int | None], dict[str, str]]:
    """Where `operations.fork` would start each run, and what it would refuse: read by the
    same functions (a patch places the fork after its last patched step), so the preview of
    a fork is the fork. One run given as a string is refused with the error fork raises."""
    if patch:
        from_step = patching.prepare(ids, from_step, patching.normalized(patch))[1]
        patch = patching.normalized(patch)
    plans = fork_refusals(ids, from_step, patch)
    refused = {run_id: reason for run_id, (_, reason) in plans.items() if reason}
    if isinstance(given, str) and refused:
        raise OperationRefused(given, refused[given])
    starts = {run_id: None if reason else step for run_id, (step, reason) in plans.items()}
    return starts, refused


IN_FLIGHT = "the step in flight when the run stopped"
IN_FLIGHT_WHY = "it may have started before the stop, without a checkpoint"


def _stopped_in_flight(
    steps: HistoryQuerySet, ids: list[str], starts: dict[str, int | None]
) -> dict[str, int]:
    """Cancelled or dead runs that had started, with no failed step to re-run: the step
    after their last checkpoint may have been running (a cancel lets it finish but not
    record; a dead executor left it mid-way), so a resume runs it again."""
    stopped = Run.objects.filter(
        id__in=[run_id for run_id in ids if starts.get(run_id) is None],
        status__in=(RunStatus.CANCELLED, RunStatus.DEAD),
        started_at__isnull=False,
    ).values_list("id", flat=True)
    reached = dict(
        steps.filter(run_id__in=list(stopped)).values_list("run_id").annotate(Max("position"))
    )
    return {run_id: reached.get(run_id, -1) + 1 for run_id in stopped}


def _first_repeated_positions(
    action: str, steps: HistoryQuerySet, ids: list[str], from_step: int | None
) -> dict[str, int | None]:
    """Per run, the first recorded position that executes again (None: none does)."""
    if action == "restart":
        return dict.fromkeys(ids, 0)
    failed = steps.filter(status=StepStatus.ERROR).values_list("run_id")
    # resume drops a trailing failed checkpoint, so that step (only) runs again
    last = dict(steps.values_list("run_id").annotate(Max("position")))
    last_failed = dict(failed.annotate(Max("position")))
    return {
        run_id: last_failed.get(run_id)
        if last_failed.get(run_id) == last.get(run_id) and run_id in last
        else None
        for run_id in ids
    }


def _judge(position: int, name: str, kind: str) -> RepeatedStep:
    if kind == StepKind.TRANSACTION:
        return RepeatedStep(position, name, kind, False, "a transaction: effects commit once")
    if kind == StepKind.SEND:
        return RepeatedStep(position, name, kind, True, "the message is sent again")
    if kind != StepKind.STEP:
        return RepeatedStep(position, name, kind, False, f"a {kind} entry")
    definition = registry.get_step(name)
    if definition is None:
        return RepeatedStep(position, name, kind, True, "not defined in this process")
    if definition.idempotent:
        return RepeatedStep(position, name, kind, False, "declared idempotent")
    return RepeatedStep(position, name, kind, True, "it is not idempotent")
