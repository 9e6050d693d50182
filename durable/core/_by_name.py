"""Runs of a workflow named by text, from a process that may not have its code
(`durable.client.start`, `durable.start_async("name")`): the checks and the stand-in
definition that `durable.core._start` creates such a run from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from durable.core import store
from durable.core._registry import WorkflowDefinition, get_workflow, is_registered
from durable.errors import UnknownWorkflowError

LATEST = ""  # the stored version of a run that the first claiming executor stamps


def require_known(workflow: str, version: str) -> None:
    """Refuse a name (and version) no executor ever served and no run ever had: a typo
    would otherwise wait ENQUEUED forever."""
    if is_registered(workflow) and version in (LATEST, get_workflow(workflow).version):
        return
    if store.workflow_known(workflow, version):
        return
    what = f"workflow {workflow!r}" + (f" at version {version!r}" if version else "")
    raise UnknownWorkflowError(
        f"no executor has served {what} and no run of it exists: check the name (and "
        "version), start a worker whose code defines it, or pass strict=False to enqueue "
        "the run anyway (it waits ENQUEUED and shows as stranded on the health page)"
    )


def definition(workflow: str, version: str = LATEST) -> WorkflowDefinition:
    """All `durable.start` needs of a workflow it cannot import: the name and the version."""
    return WorkflowDefinition(name=workflow, func=not_here, version=version)


def stand_in(workflow: str) -> Callable[..., Any]:
    """What `durable.start` accepts for a known workflow whose code is not imported here."""
    require_known(workflow, LATEST)

    def started_by_name(*args: Any, **kwargs: Any) -> Any:
        return not_here()

    started_by_name.__durable_workflow__ = definition(workflow)  # type: ignore[attr-defined]
    return started_by_name


def not_here(*args: Any, **kwargs: Any) -> Any:
    raise UnknownWorkflowError("a workflow started by name runs where its code is registered")
