"""Workflow and step definitions, registered by name when their module is imported."""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from durable.core.conf import settings
from durable.errors import UnknownWorkflowError

logger = logging.getLogger("durable")


@dataclass(frozen=True)
class RetryPolicy:
    """Retries after the first attempt; the n-th retry waits delay * backoff**(n-1), capped.

    With `jitter` j (0..1) the wait is drawn uniformly from [(1-j) * w, w], where w is that
    capped delay: 1.0 ("full jitter") spreads retries of many runs over [0, w]. `retry_if`
    sees each exception `retry_on` admits and may refuse the retry (False: fail now).
    """

    retries: int = 0
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 300.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    jitter: float = 0.0
    retry_if: Callable[[BaseException], Any] | None = None

    def wait_before(self, retry_number: int) -> float:
        wait = min(self.delay * self.backoff ** (retry_number - 1), self.max_delay)
        return wait * (1 - self.jitter * random.random())

    def refusal(self, exc: BaseException) -> str | None:
        """Why `exc` is not retried (a note for the record; "" for a type `retry_on` does
        not list), or None to retry it. A retry_if that raises refuses, naming its error."""
        if not isinstance(exc, self.retry_on):
            return ""
        if self.retry_if is None:
            return None
        try:
            answer = self.retry_if(exc)
        except Exception as predicate_error:
            return (
                f"not retried: retry_if raised {type(predicate_error).__qualname__}: "
                f"{predicate_error} (while judging this error)"
            )
        return None if answer else "not retried: retry_if returned False for this error"


@dataclass
class WorkflowDefinition:
    name: str
    func: Callable[..., Any]
    version: str
    queue: str = "default"
    timeout: float | None = None
    max_recoveries: int | None = None  # None: DURABLE_MAX_RECOVERIES


@dataclass
class StepDefinition:
    name: str
    func: Callable[..., Any]
    kind: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # declared safe to run twice (replay previews don't warn about it repeating)
    idempotent: bool = False
    timeout: float | None = None  # seconds an attempt may take (durable.core._hung)
    max_output_bytes: int | None = None  # None: DURABLE_MAX_STEP_OUTPUT_BYTES


_workflows: dict[str, WorkflowDefinition] = {}
_steps: dict[str, StepDefinition] = {}


def default_name(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def source_version(func: Callable[..., Any]) -> str:
    """A code version that changes when the workflow's source does."""
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        source = func.__qualname__
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def register(definition: WorkflowDefinition) -> None:
    existing = _workflows.get(definition.name)
    if existing is not None and existing.func.__code__ is not definition.func.__code__:
        logger.warning("workflow %s registered again; the newer definition wins", definition.name)
    _workflows[definition.name] = definition


def get_workflow(name: str) -> WorkflowDefinition:
    try:
        return _workflows[name]
    except KeyError:
        known = ", ".join(sorted(_workflows)) or "none"
        raise UnknownWorkflowError(
            f"no workflow named {name!r} is registered in this process (registered: {known}); "
            "import the module that defines it, put it in an app's workflows.py, or list it "
            "in DURABLE_MODULES"
        ) from None


def register_step(definition: StepDefinition) -> None:
    """Steps are known by name so tools (replay previews, local replay) can look them up."""
    _steps[definition.name] = definition


def get_step(name: str) -> StepDefinition | None:
    return _steps.get(name)


def defining_modules() -> set[str]:
    """Modules that define registered workflows or steps: the project's own code, whose
    exception classes recorded errors may be rebuilt as (`durable.core._error_types`)."""
    definitions: list[WorkflowDefinition | StepDefinition] = [
        *_workflows.values(),
        *_steps.values(),
    ]
    return {getattr(definition.func, "__module__", "") for definition in definitions}


def is_registered(name: str) -> bool:
    return name in _workflows


def registered_names() -> list[str]:
    return sorted(_workflows)


def runnable_keys() -> list[str]:
    """What this process can execute: "name@version" per workflow, and "name@" for runs
    recorded without a version. Runs of other versions wait for an executor that has them.
    """
    keys = [f"{name}@{definition.version}" for name, definition in _workflows.items()]
    return sorted(keys + [f"{name}@" for name in _workflows])


def autodiscover() -> None:
    """Import every installed app's `workflows` module and each of DURABLE_MODULES."""
    import importlib

    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("workflows")
    for module in settings.DURABLE_MODULES:
        importlib.import_module(module)


def wraps_definition(func: Callable[..., Any], wrapper: Callable[..., Any]) -> Callable[..., Any]:
    return functools.update_wrapper(wrapper, func)
