"""Local replay: run a recorded run's workflow code in this process against its history.

Every step (and primitive) the code asks for is answered from the recorded checkpoints;
no recorded step body runs and nothing is written (the engine's write paths are never
reached, and the whole replay runs in a transaction that is rolled back). The replay stops
at the first divergence from the history, at the recorded failure, or at `until_step`.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from django.db import transaction

from durable.core import _async_runs as async_runs
from durable.core import _context as context
from durable.core import _decorators as decorators
from durable.core import _registry as registry
from durable.core._context import RecordedStep, RunContext
from durable.core._registry import StepDefinition
from durable.core._serialization import entry_input, error_to_dict
from durable.debugging.export import get_run
from durable.errors import NonDeterminismError
from durable.models import Run, Step

REPLAY_EXECUTOR = "replay:local"  # owns no run, so even a stray checkpoint write is refused


@dataclass
class StepCall:
    """A step call the code made during replay, with the live arguments it passed."""

    definition: StepDefinition
    args: tuple
    kwargs: dict


@dataclass
class ReplayReport:
    """What a replay found. `outcome` is one of: failure (the recorded error was reached),
    divergence, until (stopped at --until-step), end_of_history (the code asks for a step
    the run never recorded), code_error (workflow code raised between steps), child_failure (a child
    run's failure reached the code: replay that run), completed."""

    run_id: str
    workflow: str
    recorded_status: str
    outcome: str
    message: str
    replayed: list[tuple[int, str]] = field(default_factory=list)
    position: int | None = None
    step_name: str = ""
    step_input: Any = None
    error: dict[str, Any] | None = None
    call: StepCall | None = None
    version_note: str = ""

    def render(self) -> str:
        lines = [
            f"replay of run {self.run_id} ({self.workflow}), recorded {self.recorded_status}",
            *([self.version_note] if self.version_note else []),
            *(f"  step {position:<3} {name}  replayed" for position, name in self.replayed),
            self.message,
        ]
        if self.position is not None and self.step_name:
            lines.append(f"  step:  {self.position} ({self.step_name})")
        if self.step_input is not None:
            lines.append(f"  input: {json.dumps(self.step_input, ensure_ascii=False)}")
        if self.error:
            lines.append(f"  error: {self.error.get('type')}: {self.error.get('message')}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        fields = ("run_id", "workflow", "recorded_status", "outcome", "message", "position")
        return {
            **{name: getattr(self, name) for name in fields},
            "step": self.step_name,
            "input": self.step_input,
            "error": self.error,
            "replayed": [{"position": p, "step": name} for p, name in self.replayed],
            "version_note": self.version_note,
        }


class ReplayStopped(BaseException):  # noqa: N818 - control flow the workflow must not catch
    def __init__(self, report: ReplayReport) -> None:
        super().__init__(report.message)
        self.report = report


class _ReplayHistory(dict):
    """The recorded checkpoints, answering the engine's `recorded.get(position)` lookups:
    a position past the history (or past `until_step`) stops the replay instead of letting
    the engine execute and record the step."""

    def __init__(self, replay: Replay) -> None:
        super().__init__(replay.recorded)
        self.replay = replay

    def get(self, position: int, default: Any = None) -> RecordedStep:
        return self.replay.entry_at(position)


class Replay:
    def __init__(self, run: Run, until_step: int | None = None, version_note: str = "") -> None:
        self.run = run
        self.until_step = until_step
        self.version_note = version_note
        self.rows = {step.position: step for step in Step.objects.of_run(run)}
        self.recorded = {
            position: RecordedStep(
                position,
                row.name,
                row.kind,
                row.status,
                row.output,
                row.error,
                row.input_hash,
                from_file=run.imported,  # a file's errors replay within the safe set here too
            )
            for position, row in self.rows.items()
        }
        self.served: list[tuple[int, str]] = []
        self.calls: dict[int, StepCall] = {}
        self.last_position: int | None = None
        self.failed_served: list[int] = []  # recorded failures handed back to the code

    def report(self, outcome: str, message: str, **details: Any) -> ReplayReport:
        return ReplayReport(
            run_id=self.run.id,
            workflow=self.run.workflow,
            recorded_status=self.run.status,
            outcome=outcome,
            message=message,
            replayed=[entry for entry in self.served if self.rows[entry[0]].status == "SUCCESS"],
            version_note=self.version_note,
            **details,
        )

    def entry_at(self, position: int) -> RecordedStep:
        self.last_position = position
        call = _step_call_in_progress()
        if call is not None:
            self.calls[position] = call
        if self.until_step is not None and position >= self.until_step:
            message = f"stopped before step {position} as asked (--until-step {self.until_step})"
            raise ReplayStopped(self._stop_here("until", message, position, call))
        recorded = self.recorded.get(position)
        if recorded is None:
            asked = call.definition.name if call else "an entry"
            message = (
                f"the code asks for step {position} ({asked}) but the recorded run ended "
                f"before it ({self.run.status}); resume or fork the run to execute it"
            )
            raise ReplayStopped(self._stop_here("end_of_history", message, position, call))
        if call is not None and recorded.name == call.definition.name:
            self._check_input(position, recorded, call)
        self.served.append((position, recorded.name))
        if recorded.status == "ERROR":
            self.failed_served.append(position)
        return recorded

    def _stop_here(
        self, outcome: str, message: str, position: int, call: StepCall | None
    ) -> ReplayReport:
        row = self.rows.get(position)
        return self.report(
            outcome,
            message,
            position=position,
            step_name=row.name if row else (call.definition.name if call else ""),
            step_input=row.input if row else (_input_of(call) if call else None),
            error=row.error if row else None,
            call=call,
        )

    def _check_input(self, position: int, recorded: RecordedStep, call: StepCall) -> None:
        recorded_input = self.rows[position].input
        live_input = _input_of(call)
        if recorded_input is None or recorded_input == live_input:
            return
        raise ReplayStopped(
            self.report(
                "divergence",
                f"divergence at step {position} ({recorded.name}): the code passes another "
                f"input than the history holds\n  now:   {json.dumps(live_input)}",
                position=position,
                step_name=recorded.name,
                step_input=recorded_input,
                call=call,
            )
        )


def _input_of(call: StepCall) -> Any:
    shown = entry_input({"args": list(call.args), "kwargs": call.kwargs}, where="replay")
    return json.loads(shown.text)


def _step_call_in_progress(max_depth: int = 8) -> StepCall | None:
    """The step call that led to this history lookup, found in the decorator's frame: the
    engine passes a step's arguments only to its own execution path, not to the history."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(max_depth):
        if frame is None:
            return None
        if frame.f_code.co_filename == decorators.__file__ and frame.f_code.co_name == "wrapper":
            definition = frame.f_locals.get("definition")
            if isinstance(definition, StepDefinition):
                return StepCall(definition, frame.f_locals["args"], frame.f_locals["kwargs"])
        frame = frame.f_back
    return None


def replay_run(run_id: str, *, until_step: int | None = None) -> ReplayReport:
    """Replay `run_id` in this process and say where and why it stopped."""
    run = get_run(run_id)
    registry.autodiscover()
    definition = registry.get_workflow(run.workflow)
    replay = Replay(run, until_step, _version_note(run, definition.version))
    run_context = RunContext(
        run_id=run.id,
        workflow=definition,
        executor_id=REPLAY_EXECUTOR,
        recorded=_ReplayHistory(replay),
        cancelled=threading.Event(),
    )
    with transaction.atomic():
        try:
            return _drive(replay, run_context, definition)
        finally:
            transaction.set_rollback(True)


def _version_note(run: Run, version: str) -> str:
    """A divergence is expected when the code changed since the run was recorded: say so."""
    if not run.version or run.version == version:
        return ""
    return (
        f"note: the run was recorded with code version {run.version}; this process has "
        f"{version} (a divergence may be that change)"
    )


def _drive(replay: Replay, run_context: RunContext, definition: Any) -> ReplayReport:
    run_input = replay.run.input or {}
    token = context.activate(run_context)
    try:
        result = async_runs.call(
            definition.func, run_input.get("args", []), run_input.get("kwargs", {})
        )
    except ReplayStopped as stopped:
        return stopped.report
    except Exception as exc:  # noqa: BLE001 - the run's own failure is what we report
        return _judge_exception(replay, run_context, exc)
    finally:
        context.deactivate(token)
    if run_context.nondeterminism is not None:
        return _divergence(replay, run_context.nondeterminism)
    return replay.report(
        "completed",
        f"the code completed against the history and returned {json.dumps(result)} "
        f"(recorded output: {json.dumps(replay.run.output)})",
    )


def _judge_exception(replay: Replay, run_context: RunContext, exc: Exception) -> ReplayReport:
    if isinstance(exc, NonDeterminismError) or run_context.nondeterminism is not None:
        return _divergence(replay, run_context.nondeterminism or exc)
    position = _failed_position(replay, exc)
    row = replay.rows.get(position) if position is not None else None
    if position is not None and row is not None and row.status == "ERROR":
        return replay.report(
            "failure",
            f"stopped at the recorded failure of step {position} ({row.name})",
            position=position,
            step_name=row.name,
            step_input=row.input,
            error=row.error,
            call=replay.calls.get(position),
        )
    child = _failed_child(replay, exc)
    if child is not None:
        position, row, child_run = child
        return replay.report(
            "child_failure",
            f"stopped at step {position} ({row.name}): its child run {child_run.id} failed; "
            f"replay that run to see where: durable replay {child_run.id}",
            position=position,
            step_name=row.name,
            step_input=row.input,
            error=child_run.error,
        )
    position = replay.last_position
    return replay.report(
        "code_error",
        f"the workflow code raised outside any step, after step {position}",
        position=position,
        error=error_to_dict(exc),
    )


def _same_error(recorded: dict[str, Any] | None, exc: BaseException) -> bool:
    if not recorded:
        return False
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return recorded.get("message") == str(exc) and recorded.get("type") in (
        kind,
        type(exc).__name__,
    )


def _failed_position(replay: Replay, exc: BaseException) -> int | None:
    """The recorded failure the code let through: under asyncio.gather the last lookup is
    not the failing step, so match the raised error against the failures handed back."""
    for position in reversed(replay.failed_served):
        if _same_error(replay.rows[position].error, exc):
            return position
    return replay.last_position  # not a failure handed back (one caught, then code raised)


def _failed_child(replay: Replay, exc: BaseException) -> tuple[int, Step, Run] | None:
    """A child entry whose run failed with the error the code raised (its result re-raises)."""
    children = [
        (position, replay.rows[position])
        for position, _ in replay.served
        if replay.rows[position].kind == "child"
    ]
    for position, row in reversed(children):
        child_id = row.output if isinstance(row.output, str) else None
        if child_id is None and isinstance(row.output, dict):
            child_id = row.output.get("run_id")
        child_run = Run.objects.filter(id=child_id).first() if child_id else None
        if (
            child_run is not None
            and child_run.status == "ERROR"
            and _same_error(child_run.error, exc)
        ):
            return position, row, child_run
    return None


def _divergence(replay: Replay, error: BaseException) -> ReplayReport:
    position = replay.last_position
    row = replay.rows.get(position) if position is not None else None
    return replay.report(
        "divergence",
        f"divergence: {error}",
        position=position,
        step_name=row.name if row else "",
        step_input=row.input if row else None,
    )


def debug_failing_step(
    report: ReplayReport, *, stdin: Any = None, stdout: Any = None
) -> BaseException | None:
    """Run the failing step's body again with its recorded input and open pdb post-mortem
    on its exception. The body really runs (its side effects outside this database happen
    again); its writes to this database are rolled back. None if it did not fail this time."""
    import pdb

    call = report.call or _recorded_call(report)
    with transaction.atomic():
        try:
            async_runs.call(call.definition.func, call.args, call.kwargs)
        except Exception as exc:  # noqa: BLE001 - any failure is what the debugger is for
            debugger = pdb.Pdb(stdin=stdin, stdout=stdout)
            debugger.reset()
            debugger.interaction(None, exc.__traceback__)
            return exc
        finally:
            transaction.set_rollback(True)
    return None


def _recorded_call(report: ReplayReport) -> StepCall:
    definition = registry.get_step(report.step_name)
    if definition is None:
        raise NonDeterminismError(
            f"step {report.step_name!r} is not defined in this process; import the module "
            "that defines it (DURABLE_MODULES) to debug it"
        )
    recorded = report.step_input or {}
    return StepCall(definition, tuple(recorded.get("args", [])), recorded.get("kwargs", {}))
