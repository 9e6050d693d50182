"""Errors the engine raises; each message says what happened and what to do about it."""

from __future__ import annotations


class DurableError(Exception):
    """Base class of every error raised by Durable itself."""


class SerializationError(DurableError, TypeError):
    """A value could not be stored as JSON; raised at the call, before anything is written.
    `arguments` names the call's arguments that hold it, where the caller knows them."""

    def __init__(self, message: str, *, arguments: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.arguments = arguments


class PayloadTooLargeError(SerializationError):
    """A serialized value is larger than DURABLE_MAX_PAYLOAD_BYTES."""


class BrokenTransactionError(DurableError):
    """A `@durable.transaction` body caught a database error and returned: its transaction
    cannot commit. The step's failure, recorded and retried like any other."""


class StepOutputTooLargeError(DurableError):
    """A step returned more than its `max_output_bytes` (or DURABLE_MAX_STEP_OUTPUT_BYTES);
    the attempt fails instead of bloating the checkpoint table."""


class NonDeterminismError(DurableError):
    """The code asked for another step, or passed another input, than the run's history
    holds at that position."""


class UnknownWorkflowError(DurableError, LookupError):
    """No workflow of that name is registered in this process."""


class InvalidRunIdError(DurableError, ValueError):
    """A run id that is not a short printable string."""


class RunNotFoundError(DurableError, LookupError):
    """No run has that id."""


class UnknownQueueError(DurableError, LookupError):
    """No queue of that name is stored (nobody declared it nor set its limits)."""


class RunIdConflictError(DurableError):
    """A run with that id exists but belongs to another workflow."""


class OperationRefused(DurableError):
    """An operator action that makes no sense for the run's state (resume a success, …)."""

    def __init__(self, run_id: str, reason: str) -> None:
        super().__init__(f"run {run_id}: {reason}")
        self.run_id = run_id
        self.reason = reason


class RequestIdConflictError(DurableError):
    """A bulk job's request id sent again for another action: returning the first job would
    lose the new request, starting it would break the id's promise; give it an id of its own."""

    def __init__(self, message: str, *, job_id: str, action: str) -> None:
        super().__init__(message)
        self.job_id = job_id  # the job the id started, and its action
        self.action = action


class ResultTimeoutError(DurableError, TimeoutError):
    """`handle.result(timeout=…)` waited longer than allowed; the run goes on."""


class RunCancelledError(DurableError):
    """The run was cancelled; its checkpoints stay and it can be resumed."""


class RunDeadError(DurableError):
    """The run's owner died more often than DURABLE_MAX_RECOVERIES allows."""


class WorkflowError(DurableError):
    """A run failed with an exception whose type cannot be rebuilt in this process."""

    def __init__(self, message: str, *, error_type: str = "", traceback: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type
        self.remote_traceback = traceback


class InvalidArgumentError(DurableError, ValueError):
    """An API argument of the wrong type or out of range; the message names the argument."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument


class InvalidPatchError(InvalidArgumentError):
    """A fork's `patch` wrong in itself, whatever the run: a key that is not a step number,
    a step given twice, a step the fork does not reuse, an output that cannot be stored.
    (A step the run never recorded is the run's state: `OperationRefused`.)"""

    def __init__(self, message: str) -> None:
        super().__init__("patch", message)


class UnstorablePatchError(InvalidPatchError, SerializationError):
    """A patched output that cannot be stored as JSON: a bad `patch` argument, and still
    the SerializationError every other unstorable value raises (code catching either
    keeps working)."""

    def __init__(self, message: str) -> None:
        InvalidPatchError.__init__(self, message)
        self.arguments = ("patch",)


class PatchTooLargeError(UnstorablePatchError, PayloadTooLargeError):
    """A patched output over DURABLE_MAX_PAYLOAD_BYTES: as UnstorablePatchError, and still
    the PayloadTooLargeError every other oversized value raises."""


class StepTimeoutError(DurableError, TimeoutError):
    """A step ran longer than its `timeout=`: the attempt failed and its retry policy decides.
    The step's thread cannot be stopped (Python has no way to); it is abandoned."""


class StreamClosedError(DurableError):
    """`write_stream` to a stream its run already closed; the message names run and key."""


class StreamTimeoutError(DurableError, TimeoutError):
    """`read_stream` got no new value within its `timeout`; read again with `after=`."""


class ScheduleNotFoundError(DurableError, LookupError):
    """No cron schedule has that name."""


class ScheduleConflictError(DurableError):
    """A schedule with that name exists, or the change belongs in the code that declares it."""


class ExecutorNotFoundError(DurableError, LookupError):
    """No live executor has that id (it stopped, or the id is mistyped)."""
