"""Dry run of a mass resume or fork: replay a sample of the selected runs' recorded
histories against the code deployed now (`replay.replay_run`, nothing written) and say
which would diverge (the workflow changed shape: non-determinism) and which recorded
steps would run again (`preview`), so the operator fixes the code or forks instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from durable.debugging import preview, replay
from durable.errors import DurableError

ACTIONS = ("resume", "fork")  # the actions that replay recorded checkpoints
SAMPLE = 50
BROKEN = ("divergence", "code_error")
# the code asks for a step past the recorded end: what a resume or fork does next, not a
# change of shape (a run that failed or was cancelled between steps goes on from there)


@dataclass
class DryRun:
    action: str
    total: int
    sampled: list[str]
    diverging: dict[str, str] = field(default_factory=dict)  # run -> what the replay found
    repeats: list[str] = field(default_factory=list)  # preview sentences

    def lines(self) -> list[str]:
        scope = (f"{len(self.sampled):,} of {self.total:,} runs (an even sample)"
                 if len(self.sampled) < self.total else f"all {self.total:,} runs")  # fmt: skip
        head = f"dry run of a {self.action}: replayed {scope} against the code deployed now"
        if not self.diverging:
            verdict = "none diverges from its recorded history"
        else:
            verdict = (f"{len(self.diverging):,} would diverge (the workflow changed shape): "
                       "deploy the old code or fork them instead")  # fmt: skip
        found = [f"  {run_id}: {message}" for run_id, message in list(self.diverging.items())[:20]]
        return [head, verdict, *found, *self.repeats]

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "total": self.total, "sampled": self.sampled,
                "diverging": self.diverging, "repeats": self.repeats}  # fmt: skip


def dry_run(action: str, run_ids: list[str], sample: int = SAMPLE) -> DryRun:
    """Replay an even sample of at most `sample` of `run_ids`; never writes anything."""
    if action not in ACTIONS:
        return DryRun(action, len(run_ids), [])
    stride = max(1, -(-len(run_ids) // max(1, sample)))
    sampled = run_ids[::stride][:sample]
    result = DryRun(action, len(run_ids), sampled)
    for run_id in sampled:
        message = _divergence(run_id)
        if message:
            result.diverging[run_id] = message
    result.repeats = preview.preview(action, sampled).lines() if sampled else []
    return result


def _divergence(run_id: str) -> str | None:
    """What stops a replay of the run short of its recorded end, or None."""
    try:
        report = replay.replay_run(run_id)
    except DurableError as exc:  # its workflow is not deployed here, the run is gone
        return str(exc)
    return report.message if report.outcome in BROKEN else None
