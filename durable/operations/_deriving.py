"""Restart and fork: new runs derived from an original, reusing its checkpoints before the
fork point (a restart is a fork from step 0), its messages and the events it published."""

from __future__ import annotations

import inspect
import uuid
from datetime import datetime
from typing import Any

from django.db.models import Min

from durable.core import _creation as creation
from durable.core import _registry as registry
from durable.core._registry import get_workflow, is_registered
from durable.core.store import _forks as store_forks
from durable.core.store import _primitives as store_primitives
from durable.core.store import _streams as store_streams
from durable.errors import InvalidArgumentError, SerializationError
from durable.models import AuditEntry, Run, Step
from durable.operations import _patching as patching
from durable.operations import _superseded as superseded
from durable.operations._batches import BulkResult
from durable.operations._new_runs import NewRunOptions, id_taken


def check_input(args: Any, kwargs: Any) -> None:
    """Edited input is a list of args and a dict of kwargs (None keeps the recorded)."""
    if args is not None and not isinstance(args, list | tuple):
        raise InvalidArgumentError("args", f"must be a list or None, not {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise InvalidArgumentError("kwargs", f"must be a dict or None, not {type(kwargs).__name__}")


def fork_points(run_ids: list[str]) -> dict[str, int]:
    """Where a fork continues each run as a resume would: from its trailing failed step,
    else after its last checkpoint."""
    last_steps = _last_steps(run_ids)
    points = {}
    for run_id in run_ids:
        position, status = last_steps.get(run_id, (-1, ""))
        points[run_id] = position if status == "ERROR" else position + 1
    return points


def derive_batch(
    batch: list[str],
    from_step: int | None,
    args: list | None,
    kwargs: dict | None,
    *,
    fork: bool,
    patch: dict[int, Any] | None = None,
    since: datetime | None = None,
    options: NewRunOptions | None = None,
    include_superseded: bool = True,
) -> BulkResult:
    """Restart or fork each run of a batch whose rows the caller has locked (FOR UPDATE), so
    the history read here is the history copied. Without `include_superseded`, runs already
    restarted or forked are skipped (`result.skipped`), not copied a second time."""
    registry.autodiscover()  # so "the current code" is known even in a web or CLI process
    result = BulkResult()
    if not include_superseded:
        result.skipped = superseded.successors(batch)
        batch = [run_id for run_id in batch if run_id not in result.skipped]
    originals = {run.id: run for run in Run.objects.filter(id__in=batch)}
    forks = fork_refusals(batch, from_step, patch) if fork else {}
    derived = derived_since(batch, since) if since is not None else {}
    for run_id in batch:
        original = originals.get(run_id)
        step, fork_refusal = forks.get(run_id, (from_step, None))
        refusal = _derive_refusal(original, derived.get(run_id), fork_refusal)
        if refusal:
            result.refused[run_id] = refusal
            continue
        assert original is not None  # a missing run is refused above
        if unfit := _input_refusal(original, args, kwargs):
            _refuse_input(result, run_id, unfit, edited=args is not None or kwargs is not None)
            continue
        try:
            result.done[run_id] = _derive(original, step or 0, args, kwargs, patch, options)
        except SerializationError as exc:  # edited input with NaN, 1e400, …: nothing written
            _refuse_input(result, run_id, f"the edited input cannot be stored: {exc}")
        except NewRunIdTaken as taken:  # the chosen new run id is taken: nothing written
            result.refused[run_id] = id_taken(taken.run_id)
    return result


def _derive_refusal(
    original: Run | None, derived: str | None, fork_refusal: str | None
) -> str | None:
    if original is None:
        return "no such run"
    return derived or fork_refusal


def _refuse_input(result: BulkResult, run_id: str, refusal: str, *, edited: bool = True) -> None:
    """A recorded input that no longer fits is the run's state; an edited one, the call's."""
    result.refused[run_id] = refusal
    if edited:
        result.refused_input.append(run_id)


def fork_refusals(
    batch: list[str], from_step: int | None, patch: dict[int, Any] | None = None
) -> dict[str, tuple[int | None, str | None]]:
    """Per run, the step a fork executes from and why it would be refused (None: it would
    not), read exactly as `fork` reads them: the preview of a fork uses this too."""
    last_steps = _last_steps(batch)
    first_failed = _first_failed_steps(batch) if from_step is None else {}
    plans = {}
    for run_id in batch:
        step = from_step if from_step is not None else first_failed.get(run_id)
        last_position, last_status = last_steps.get(run_id, (-1, ""))
        if patch and last_position in patch:  # a patched failure is reused as a success
            last_status = "SUCCESS"
        plans[run_id] = (step, _fork_refusal(step, last_position, last_status))
    return plans


def derived_since(batch: list[str], since: datetime) -> dict[str, str]:
    """Runs of the batch restarted or forked at or after `since`: who did it, as what."""
    newest = {}
    rows = Run.objects.filter(forked_from_id__in=batch, created_at__gte=since).order_by(
        "created_at"
    )
    for origin, new_id, created in rows.values_list("forked_from_id", "id", "created_at"):
        newest[origin] = (new_id, created)
    return {origin: _already_done(origin, *found) for origin, found in newest.items()}


def _already_done(origin: str, new_id: str, created: datetime) -> str:
    entry = (
        AuditEntry.objects.filter(run_ids__contains=[origin], action__in=["restart", "fork"])
        .order_by("-id")
        .first()
    )
    who = f"{entry.actor} {entry.action}ed" if entry else "it was restarted or forked"
    return (
        f"{who} it at {created:%H:%M:%S} UTC as run {new_id}, after you loaded the page; "
        "open that run, or reload and act again"
    )


def _last_steps(batch: list[str]) -> dict[str, tuple[int, str]]:
    """Each run's last recorded position and that checkpoint's status (in the partitions of
    the runs' days: by run id alone, every partition kept is planned and probed)."""
    rows = (
        Step.objects.of_runs(batch)
        .order_by("run_id", "-position")
        .distinct("run_id")
        .values_list("run_id", "position", "status")
    )
    return {run_id: (position, status) for run_id, position, status in rows}


def _first_failed_steps(batch: list[str]) -> dict[str, int]:
    rows = (
        Step.objects.of_runs(batch)
        .filter(status="ERROR")
        .values_list("run_id")
        .annotate(Min("position"))
    )
    return dict(rows)


def _fork_refusal(step: int | None, last_position: int, last_status: str) -> str | None:
    """A fork may reuse a failed checkpoint the workflow went on from (it caught the error),
    never the one that ended the run: the fork would only fail again at once."""
    steps_recorded = last_position + 1
    if step is None:
        return "it has no failed step; choose the step to fork from (from_step)"
    if not isinstance(step, int) or step < 0:
        return f"from_step must be a step number from 0 to {steps_recorded}, not {step!r}"
    if last_status == "ERROR" and step > last_position:
        return (
            f"step {last_position} failed and ended the run, so a fork from step {step} would "
            f"replay that failure; fork from a step between 0 and {last_position}"
        )
    if step > steps_recorded:
        return (
            f"it never reached step {step} (it recorded {steps_recorded} step(s)); "
            f"fork from a step between 0 and {steps_recorded}"
        )
    return None


def _input_refusal(original: Run, args: list | None, kwargs: dict | None) -> str | None:
    """The (edited) input must fit the current workflow's parameters, or the new run
    fails at once; a workflow this process does not know is left to its executor."""
    if not is_registered(original.workflow):
        return None
    func = get_workflow(original.workflow).func
    edited = args is not None or kwargs is not None
    run_input = original.input or {}
    args = list(run_input.get("args", [])) if args is None else args
    kwargs = dict(run_input.get("kwargs", {})) if kwargs is None else kwargs
    try:
        inspect.signature(func).bind(*args, **kwargs)
    except TypeError as exc:
        return (
            f"the {'edited ' if edited else ''}input does not fit "
            f"{original.workflow}{inspect.signature(func)}: {exc}; edit the args and kwargs "
            "to match"
        )
    return None


def _derive(
    original: Run,
    from_step: int,
    args: list | None,
    kwargs: dict | None,
    patch: dict[int, Any] | None = None,
    options: NewRunOptions | None = None,
) -> str:
    options = options or NewRunOptions()
    run_input = dict(original.input or {})
    if args is not None:
        run_input["args"] = list(args)
    if kwargs is not None:
        run_input["kwargs"] = dict(kwargs)
    new = creation.NewRun(
        workflow=original.workflow,
        version=_current_version(original),
        input=run_input,
        queue=options.queue or original.queue,
        run_id=options.run_id or uuid.uuid4().hex,
        tags=original.tags or {},
        priority=original.priority if options.priority is None else options.priority,
        timeout=options.timeout if options.timeout is not None else creation.kept_timeout(original),
        max_recoveries=original.max_recoveries,
        forked_from_id=original.id,
        forked_from_step=from_step,
    )
    if not creation.create_run(new):
        raise NewRunIdTaken(new.run_id)
    new_id = new.run_id
    same_input = args is None and kwargs is None  # edited input: inputs not checked
    events = store_forks.copy_history(new_id, original.id, from_step, same_input)
    if from_step:
        for key, value in events:  # in order, so the newest value per key wins
            store_primitives.set_event(new_id, key, value)
        store_streams.copy_for_fork(original.id, new_id, from_step)
        if patch:
            patching.apply(new_id, patch)
    return new_id


def _current_version(original: Run) -> str:
    """A restart or fork runs on the code this process has, else on its origin's version."""
    if is_registered(original.workflow):
        return get_workflow(original.workflow).version
    return original.version


class NewRunIdTaken(Exception):
    """The new run id chosen for a restart or fork belongs to a run already."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id
