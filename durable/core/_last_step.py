"""Whether a workflow returns right after the step that is ending.

Then none of the workflow's own code runs between that step's checkpoint and the run's end,
and the two are written in one statement (`store.record_step_and_finish`) instead of two:
the checkpoint is held back only while the engine unwinds to the finish.

Read from the workflow's bytecode, in the frame that called the step: after that call, only
loads and stores of locals and constants, then a return (`return step()`, `step(); return
True`, `x = step(); return x`). Anything else (a call, an attribute, a jump, a `with`'s exit,
a helper function between the workflow and the step, a coroutine) and the checkpoint is
written at once, as every other step's is.
"""

from __future__ import annotations

import dis
import inspect
import sys
from types import CodeType, FrameType

_QUIET = frozenset(
    {
        "NOP", "POP_TOP", "LOAD_CONST", "LOAD_FAST", "LOAD_FAST_CHECK", "STORE_FAST",
        "LOAD_FAST_LOAD_FAST", "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST",
    }
)  # fmt: skip
_RETURNS = frozenset({"RETURN_VALUE", "RETURN_CONST"})
_ENGINE = "durable."
_MOST_FRAMES = 20  # the engine's own frames between a step's checkpoint and the workflow

_SUSPENDS = inspect.CO_COROUTINE | inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR

_scanned: dict[tuple[CodeType, int], bool] = {}
_may_return: dict[CodeType, bool] = {}  # whether any call in the code returns right after


def returns_next(workflow: object) -> bool:
    """Whether the frame of `workflow` (a workflow's function) that called the step being
    checkpointed returns right after that call; False if its frame is not the step's caller.
    A workflow none of whose calls is followed by a return (a loop) is answered without
    looking for its frame."""
    code = getattr(workflow, "__code__", None)
    if code is None or not _may_return_next(code):
        return False
    frame: FrameType | None = sys._getframe(1)
    for _ in range(_MOST_FRAMES):
        if frame is None:
            return False
        if frame.f_code is code:
            return _quiet_until_return(code, frame.f_lasti)
        if not frame.f_globals.get("__name__", "").startswith(_ENGINE):
            return False  # user code between the workflow and the step
        frame = frame.f_back
    return False


def _quiet_until_return(code: CodeType, offset: int) -> bool:
    key = (code, offset)
    known = _scanned.get(key)
    if known is None:
        known = _scanned[key] = _scan(code, offset)
    return known


def _may_return_next(code: CodeType) -> bool:
    known = _may_return.get(code)
    if known is None:
        instructions = list(dis.get_instructions(code))
        known = _may_return[code] = not code.co_flags & _SUSPENDS and any(
            _quiet_after(instructions, index) for index in range(len(instructions))
        )
    return known


def _scan(code: CodeType, offset: int) -> bool:
    """Whether the instruction at `offset` (a frame's f_lasti: the call, or one of its inline
    cache units) is a call followed only by quiet instructions up to a return."""
    if code.co_flags & _SUSPENDS:
        return False
    instructions = list(dis.get_instructions(code))
    calls = [i for i, instruction in enumerate(instructions) if instruction.offset <= offset]
    return bool(calls) and _quiet_after(instructions, calls[-1])


def _quiet_after(instructions: list[dis.Instruction], index: int) -> bool:
    """Whether `instructions[index]` is a call followed only by quiet ones up to a return."""
    if not instructions[index].opname.startswith("CALL"):
        return False
    for instruction in instructions[index + 1 :]:
        if instruction.opname in _RETURNS:
            return True
        if instruction.opname not in _QUIET:
            return False
    return False
