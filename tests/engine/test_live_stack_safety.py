"""A live stack is answered on the owner's lifeline heartbeat, so showing it must be safe:
locals are rendered with fixed bounds and never by running the program's own code, secrets
are redacted by name (local names and dict keys), and the questions themselves are bounded
(one pending per run; old ones pruned when a new one is written)."""

from __future__ import annotations

import threading
import tracemalloc
from datetime import timedelta

import pytest
from django.utils import timezone

from durable.debugging import stacks
from durable.executors._stacks import MAX_FRAMES, bounded_locals, capture
from durable.models import Run, RunStatus, StackRequest

pytestmark = pytest.mark.usefixtures("transactional_db")


class Hostile:
    """A repr that would block the heartbeat, run a query or raise."""

    calls = 0

    def __repr__(self) -> str:
        Hostile.calls += 1
        raise RuntimeError("never call me on the heartbeat")


class Huge:
    def __repr__(self) -> str:
        Hostile.calls += 1
        return "x" * 10_000_000


def test_a_huge_container_is_shown_reprlib_style_not_built_whole(settings):
    settings.DURABLE_STACK_MAX_REPR_CHARS = 200
    shown = bounded_locals({"rows": list(range(1_000_000)), "text": "y" * 1_000_000})
    assert shown["rows"] == "[0, 1, 2, 3, 4, 5, 6, 7, ...]"
    assert shown["text"].startswith("'yyyy") and len(shown["text"]) <= 200


def test_huge_bytes_are_cut_before_their_repr_is_built(settings):
    """bytes and bytearray are the interpreter's own reprs, but whole: 20 MB of them would
    build a 20-80 MB string on the heartbeat thread before the cut."""
    settings.DURABLE_STACK_MAX_REPR_CHARS = 200
    blobs = {"blob": b"\x00" * 20_000_000, "buffer": bytearray(20_000_000)}
    tracemalloc.start()
    try:
        shown = bounded_locals(blobs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"rendering two bytes locals allocated {peak:,} bytes"
    assert shown["blob"].startswith("b'\\x00") and len(shown["blob"]) <= 200
    assert shown["buffer"].startswith("bytearray(b'\\x00") and len(shown["buffer"]) <= 200


def test_the_programs_own_reprs_are_never_called(settings):
    Hostile.calls = 0
    shown = bounded_locals({"bad": Hostile(), "big": Huge(), "inside": [Hostile(), 1]})
    assert Hostile.calls == 0
    assert shown["bad"] == f"<{__name__}.Hostile object>"
    assert shown["big"] == f"<{__name__}.Huge object>"
    assert shown["inside"] == f"[<{__name__}.Hostile object>, 1]"


def test_a_repr_that_raises_is_shown_as_such(settings, monkeypatch):
    from durable.executors import _stacks

    def broken(self, value, level):
        raise ValueError("boom")

    monkeypatch.setattr(_stacks.SafeRepr, "repr_int", broken)
    assert bounded_locals({"n": 5, "s": "ok"}) == {"n": "<repr failed: ValueError>", "s": "'ok'"}


def test_secret_names_and_secret_dict_keys_are_redacted(settings):
    settings.DURABLE_STACK_REDACT = ["password", "token", "authorization"]
    shown = bounded_locals({
        "db_password": "hunter2",
        "request": {"user": "ann", "headers": {"Authorization": "Bearer abc"}, "api_token": 7},
        "pairs": [{"password": "p"}],
    })  # fmt: skip
    assert shown["db_password"] == "<redacted>"
    assert "abc" not in shown["request"] and "7" not in shown["request"]
    assert "'Authorization': <redacted>" in shown["request"] and "'user': 'ann'" in shown["request"]
    assert shown["pairs"] == "[{'password': <redacted>}]"


def test_authorization_and_keys_are_redacted_by_default():
    shown = bounded_locals({"auth": {"authorization": "Bearer s3cret", "private_key": "k"}})
    assert "s3cret" not in shown["auth"] and "'k'" not in shown["auth"]


def test_a_deep_stack_keeps_its_innermost_frames():
    found = {}

    def dive(depth: int) -> None:
        if depth:
            dive(depth - 1)
        else:
            found.update(capture(threading.current_thread(), False, include_locals=True))

    dive(MAX_FRAMES + 50)
    assert len(found["frames"]) == MAX_FRAMES
    innermost = [frame for frame in found["frames"] if frame["function"] == "dive"][-1]
    assert innermost["function"] == "dive" and innermost["locals"]["depth"] == "0"
    assert found["omitted"] >= 50


def running(run_id: str) -> str:
    Run.objects.create(id=run_id, workflow="w", status=RunStatus.RUNNING,
                       input={"args": [], "kwargs": {}})  # fmt: skip
    return run_id


def test_at_most_one_question_per_run_is_pending_and_askers_share_it():
    run_id = running("ask-once")
    first = stacks.ask(run_id)
    second = stacks.ask(run_id, include_locals=True)
    assert first == second
    pending = StackRequest.objects.get(run_id=run_id, answered_at=None)
    assert pending.include_locals, "an operator's request for locals joins the pending one"
    assert StackRequest.objects.filter(run_id=run_id).count() == 1


def test_an_asker_who_did_not_ask_for_locals_never_gets_them():
    run_id = running("ask-shared")
    request_id = stacks.ask(run_id, include_locals=True)
    answer = {
        "threads": [
            {
                "thread": "t",
                "hung": False,
                "frames": [
                    {"file": "f.py", "line": 1, "function": "g", "source": "", "locals": {"x": "1"}}
                ],
            }
        ]
    }
    StackRequest.objects.filter(id=request_id).update(answered_at=timezone.now(), answer=answer)
    assert stacks.answer(run_id, request_id).threads[0].frames[0].locals is None
    assert stacks.answer(run_id, request_id, include_locals=True).threads[0].frames[0].locals


def test_old_questions_are_pruned_when_a_new_one_is_written():
    old, fresh = running("ask-old"), running("ask-fresh")
    long_ago = timezone.now() - timedelta(hours=2)
    answered = StackRequest.objects.create(run_id=old, answered_at=long_ago, answer={})
    abandoned = StackRequest.objects.create(run_id=old)
    recent = StackRequest.objects.create(run_id=fresh, answered_at=timezone.now(), answer={})
    StackRequest.objects.filter(id__in=[answered.id, abandoned.id]).update(requested_at=long_ago)

    stacks.ask(fresh)

    left = set(StackRequest.objects.values_list("id", flat=True))
    assert answered.id not in left and abandoned.id not in left
    assert recent.id in left and len(left) == 2
