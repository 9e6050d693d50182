"""Finer retry and recovery control: retry_if, jittered backoff, a per-run recovery limit,
and transactions rerun in place after a serialization failure or a deadlock."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

import durable
from durable import operations
from durable.core import _runtime as runtime
from durable.core._registry import RetryPolicy
from durable.errors import InvalidArgumentError
from durable.executors import _recovery as recovery
from durable.models import Attempt, Run, Step
from tests.conftest import record_side_effect


class PermanentError(Exception):
    """A failure no retry fixes (a declined card)."""


class TransientError(Exception):
    """A failure a retry may fix."""


FAILURES: dict[str, list[Exception]] = {}


def _fail_if_told(run_id: str) -> str:
    record_side_effect(run_id, "attempt")
    if FAILURES.get(run_id):
        raise FAILURES[run_id].pop(0)
    return "ok"


def _not_permanent(exc: BaseException) -> bool:
    return not isinstance(exc, PermanentError)


def _broken_predicate(exc: BaseException) -> bool:
    raise KeyError("predicate bug")


@durable.step(name="rc.judged", retries=5, retry_delay=0.01, retry_if=_not_permanent)
def judged(run_id: str) -> str:
    return _fail_if_told(run_id)


@durable.step(name="rc.badly_judged", retries=5, retry_delay=0.01, retry_if=_broken_predicate)
def badly_judged(run_id: str) -> str:
    return _fail_if_told(run_id)


@durable.transaction(name="rc.judged_txn", retries=5, retry_delay=0.01, retry_if=_not_permanent)
def judged_txn(run_id: str) -> str:
    return _fail_if_told(run_id)


@durable.step(name="rc.jittered", retries=3, retry_delay=0.2, backoff=1.0, jitter=0.5)
def jittered(run_id: str) -> str:
    return _fail_if_told(run_id)


@durable.step(name="rc.after")
def after(run_id: str) -> str:
    record_side_effect(run_id, "after")
    return "after"


@durable.workflow(name="rc.judged_flow")
def judged_flow(run_id: str) -> str:
    return judged(run_id)


@durable.workflow(name="rc.badly_judged_flow")
def badly_judged_flow(run_id: str) -> str:
    return badly_judged(run_id)


@durable.workflow(name="rc.judged_txn_flow")
def judged_txn_flow(run_id: str) -> str:
    return judged_txn(run_id)


@durable.workflow(name="rc.jittered_flow")
def jittered_flow(run_id: str) -> list[str]:
    return [jittered(run_id), after(run_id)]


@durable.workflow(name="rc.fragile", max_recoveries=1)
def fragile(run_id: str) -> str:
    return after(run_id)


@durable.workflow(name="rc.plain")
def plain(run_id: str) -> str:
    return after(run_id)


# --- retry_if ---------------------------------------------------------------------------


def test_retry_if_false_fails_the_step_at_once_with_a_note(side_effects):
    FAILURES["rif-1"] = [PermanentError("card declined")]
    with pytest.raises(PermanentError):
        durable.run(judged_flow, "rif-1", run_id="rif-1")
    assert side_effects("rif-1") == {"attempt": 1}
    (attempt,) = Attempt.objects.filter(run_id="rif-1")
    assert attempt.final
    assert attempt.error["note"] == "not retried: retry_if returned False for this error"
    step = Step.objects.get(run_id="rif-1", position=0)
    assert (step.status, step.attempts) == ("ERROR", 1)
    assert "retry_if returned False" in Run.objects.get(id="rif-1").error["traceback"]


def test_retry_if_true_lets_the_step_retry_as_usual(side_effects):
    FAILURES["rif-2"] = [TransientError("busy"), TransientError("busy")]
    assert durable.run(judged_flow, "rif-2", run_id="rif-2") == "ok"
    assert side_effects("rif-2") == {"attempt": 3}
    assert [a.final for a in Attempt.objects.filter(run_id="rif-2")] == [False, False]


def test_retry_if_stops_after_transient_failures_at_the_first_permanent_one(side_effects):
    FAILURES["rif-3"] = [TransientError("busy"), PermanentError("declined"), TransientError("x")]
    with pytest.raises(PermanentError):
        durable.run(judged_flow, "rif-3", run_id="rif-3")
    attempts = list(Attempt.objects.filter(run_id="rif-3").order_by("attempt"))
    assert [(a.attempt, a.final, a.error_type.rsplit(".", 1)[1]) for a in attempts] == [
        (1, False, "TransientError"),
        (2, True, "PermanentError"),
    ]


def test_a_retry_if_that_raises_fails_the_step_showing_both_errors(side_effects):
    FAILURES["rif-4"] = [TransientError("busy")]
    with pytest.raises(TransientError):
        durable.run(badly_judged_flow, "rif-4", run_id="rif-4")
    assert side_effects("rif-4") == {"attempt": 1}
    (attempt,) = Attempt.objects.filter(run_id="rif-4")
    assert attempt.final and attempt.error_type.endswith("TransientError")
    assert "retry_if raised KeyError: 'predicate bug'" in attempt.error["note"]
    run = Run.objects.get(id="rif-4")
    assert run.status == "ERROR" and "predicate bug" in run.error["traceback"]


def test_retry_if_applies_to_transaction_steps_and_rolls_back_each_attempt(side_effects):
    FAILURES["rif-5"] = [PermanentError("constraint")]
    with pytest.raises(PermanentError):
        durable.run(judged_txn_flow, "rif-5", run_id="rif-5")
    assert side_effects("rif-5") == {}  # the attempt's write rolled back with it
    assert Attempt.objects.get(run_id="rif-5").final


def test_retry_if_and_jitter_are_checked_when_the_step_is_declared():
    with pytest.raises(InvalidArgumentError, match="retry_if"):
        durable.step(retry_if="yes")(lambda: None)
    with pytest.raises(InvalidArgumentError, match="jitter"):
        durable.step(jitter=1.5)(lambda: None)
    with pytest.raises(InvalidArgumentError, match="jitter"):
        durable.transaction(jitter="full")(lambda: None)


# --- jitter -----------------------------------------------------------------------------


@given(
    delay=st.floats(0, 100),
    backoff=st.floats(1, 4),
    max_delay=st.floats(0, 1000),
    jitter=st.floats(0, 1),
    retry_number=st.integers(1, 20),
)
def test_a_jittered_wait_stays_within_its_documented_bounds(
    delay, backoff, max_delay, jitter, retry_number
):
    policy = RetryPolicy(retries=20, delay=delay, backoff=backoff, max_delay=max_delay,
                         jitter=jitter)  # fmt: skip
    unjittered = min(delay * backoff ** (retry_number - 1), max_delay)
    wait = policy.wait_before(retry_number)
    assert (1 - jitter) * unjittered - 1e-9 <= wait <= unjittered + 1e-9


def test_full_jitter_spreads_waits_over_zero_to_the_delay():
    policy = RetryPolicy(retries=3, delay=1.0, jitter=1.0)
    waits = [policy.wait_before(1) for _ in range(500)]
    assert min(waits) < 0.1 and max(waits) > 0.9 and all(0 <= w <= 1.0 for w in waits)


def test_the_jittered_delay_is_recorded_with_its_attempt_and_waited(side_effects):
    FAILURES["jit-1"] = [TransientError("busy"), TransientError("busy")]
    assert durable.run(jittered_flow, "jit-1", run_id="jit-1") == ["ok", "after"]
    attempts = list(Attempt.objects.filter(run_id="jit-1").order_by("attempt"))
    delays = [a.error["retry_delay_seconds"] for a in attempts]
    assert all(0.1 <= d <= 0.2 for d in delays)
    retried_at = [attempts[1].started_at, Step.objects.get(run_id="jit-1", position=0).started_at]
    for attempt, delay, next_start in zip(attempts, delays, retried_at, strict=True):
        assert (next_start - attempt.finished_at).total_seconds() >= delay - 0.005


def test_a_fork_replays_a_jittered_steps_output_without_retrying_it(side_effects):
    FAILURES["jit-2"] = [TransientError("busy")]
    assert durable.run(jittered_flow, "jit-2", run_id="jit-2") == ["ok", "after"]
    FAILURES["jit-2"] = [TransientError("would fail again")]
    fork_id = operations.fork("jit-2", from_step=1)
    assert durable.get(fork_id).result(timeout=10) == ["ok", "after"]
    assert side_effects("jit-2") == {"attempt": 2, "after": 2}  # step 0 not run again
    assert FAILURES["jit-2"]  # never consulted
    assert not Attempt.objects.filter(run_id=fork_id).exists()


# --- max_recoveries ---------------------------------------------------------------------


def _die_while_running(run_id: str, executor_id: str = "dead-executor") -> None:
    """Claim the run as an executor that then dies: its lease has ended."""
    assert runtime.claim(run_id, executor_id, [run_id.split(":")[0]]) is not None
    Run.objects.filter(id=run_id).update(lease_expires_at=timezone.now())


def test_a_workflows_max_recoveries_is_stored_on_its_runs_and_a_start_overrides_it(
    transactional_db, settings
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(fragile, "x", run_id="rc.fragile:1")
    durable.start(fragile, "x", run_id="rc.fragile:2", max_recoveries=4)
    durable.start(plain, "x", run_id="rc.plain:1")
    stored = dict(Run.objects.values_list("id", "max_recoveries"))
    assert stored == {"rc.fragile:1": 1, "rc.fragile:2": 4, "rc.plain:1": None}


def test_a_run_past_its_own_max_recoveries_goes_dead_below_the_settings_limit(
    transactional_db, settings
):
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_MAX_RECOVERIES = 5
    durable.start(fragile, "x", run_id="rc.fragile:3")
    _die_while_running("rc.fragile:3")
    assert recovery.sweep() == (["rc.fragile:3"], [])
    _die_while_running("rc.fragile:3")
    assert recovery.sweep() == ([], ["rc.fragile:3"])
    run = Run.objects.get(id="rc.fragile:3")
    assert (run.status, run.recovery_count) == ("DEAD", 1)
    assert "limit 1" in run.error["message"]


def test_a_run_with_a_higher_own_limit_outlives_the_setting(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_MAX_RECOVERIES = 0
    durable.start(plain, "x", run_id="rc.plain:2", max_recoveries=2)
    durable.start(plain, "x", run_id="rc.plain:3")
    _die_while_running("rc.plain:2")
    _die_while_running("rc.plain:3")
    requeued, dead = recovery.sweep()
    assert (requeued, dead) == (["rc.plain:2"], ["rc.plain:3"])


def test_recovery_applies_a_runs_limit_without_its_workflows_code(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(fragile, "x", run_id="rc.fragile:4")
    _die_while_running("rc.fragile:4")
    Run.objects.filter(id="rc.fragile:4").update(workflow="gone.from.this.deploy", recovery_count=1)
    assert recovery.sweep() == ([], ["rc.fragile:4"])


def test_restart_and_fork_keep_the_runs_recovery_limit(settings, side_effects):
    durable.start(plain, "x", run_id="rc.plain:5", max_recoveries=7).result(timeout=10)
    restarted = operations.restart("rc.plain:5")
    forked = operations.fork("rc.plain:5", from_step=0)
    limits = Run.objects.filter(id__in=[restarted, forked]).values_list("max_recoveries", flat=True)
    assert list(limits) == [7, 7]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_a_bad_max_recoveries_is_refused(bad, transactional_db):
    with pytest.raises(InvalidArgumentError, match="max_recoveries"):
        durable.start(plain, "x", max_recoveries=bad)
    with pytest.raises(InvalidArgumentError, match="max_recoveries"):
        durable.workflow(max_recoveries=bad)(lambda: None)


# --- serialization conflicts and deadlocks ----------------------------------------------

BODY_RUNS: Counter[str] = Counter()
FIRST_PASS = threading.Barrier(2, timeout=20)


@pytest.fixture
def accounts(side_effects):
    """Two accounts; transactions below read and write them concurrently."""
    BODY_RUNS.clear()
    FIRST_PASS.reset()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS test_account (name text PRIMARY KEY, balance int)"
        )
        cursor.execute("TRUNCATE test_account")
        cursor.execute("INSERT INTO test_account VALUES ('a', 100), ('b', 100)")


def _first_pass_meets_the_other(run_id: str) -> None:
    """Both runs' first transactions reach this point before either goes on."""
    BODY_RUNS[run_id] += 1
    if BODY_RUNS[run_id] == 1:
        FIRST_PASS.wait()


@durable.transaction(name="rc.withdraw")
def withdraw(run_id: str, account: str) -> int:
    """Write skew: both read the total, then each withdraws from its own account."""
    with connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        cursor.execute("SELECT sum(balance) FROM test_account")
        (total,) = cursor.fetchone()
        _first_pass_meets_the_other(run_id)
        cursor.execute(
            "UPDATE test_account SET balance = balance - 150 WHERE name = %s AND %s >= 150",
            [account, total],
        )
    record_side_effect(run_id, "withdrawn")
    return total


@durable.transaction(name="rc.transfer")
def transfer(run_id: str, first: str, second: str) -> str:
    """Locks `first` then `second`: two transfers in opposite directions deadlock."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE test_account SET balance = balance - 1 WHERE name = %s", [first])
        _first_pass_meets_the_other(run_id)
        cursor.execute("UPDATE test_account SET balance = balance + 1 WHERE name = %s", [second])
    record_side_effect(run_id, "transferred")
    return f"{first}->{second}"


@durable.workflow(name="rc.withdraw_flow")
def withdraw_flow(run_id: str, account: str) -> int:
    return withdraw(run_id, account)


@durable.workflow(name="rc.transfer_flow")
def transfer_flow(run_id: str, first: str, second: str) -> str:
    return transfer(run_id, first, second)


def _balances() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, balance FROM test_account")
        return dict(cursor.fetchall())


def test_a_serialization_conflict_reruns_the_transaction_without_using_its_retries(
    accounts, side_effects
):
    one = durable.start(withdraw_flow, "ser-1", "a", run_id="ser-1")
    two = durable.start(withdraw_flow, "ser-2", "b", run_id="ser-2")
    totals = sorted([one.result(timeout=30), two.result(timeout=30)])
    assert totals == [50, 200]  # the rerun saw the winner's commit: no write skew
    assert sorted(_balances().values()) == [-50, 100]
    assert sum(BODY_RUNS.values()) == 3  # one of the two ran its body twice
    assert side_effects() == {"withdrawn": 2}  # each effect once: the loser's rolled back
    steps = Step.objects.filter(run_id__in=["ser-1", "ser-2"])
    assert [(s.status, s.attempts) for s in steps] == [("SUCCESS", 1), ("SUCCESS", 1)]
    assert not Attempt.objects.exists()  # not a failed attempt: the retry budget is intact


def test_a_deadlock_reruns_the_losing_transaction(accounts, side_effects):
    one = durable.start(transfer_flow, "dl-1", "a", "b", run_id="dl-1")
    two = durable.start(transfer_flow, "dl-2", "b", "a", run_id="dl-2")
    assert (one.result(timeout=30), two.result(timeout=30)) == ("a->b", "b->a")
    assert _balances() == {"a": 100, "b": 100}  # each transfer applied exactly once
    assert sum(BODY_RUNS.values()) == 3
    assert side_effects() == {"transferred": 2}
    assert not Attempt.objects.exists()


def test_a_conflict_past_the_rerun_budget_is_the_steps_failure(accounts, side_effects, settings):
    settings.DURABLE_TRANSACTION_CONFLICT_RETRIES = 0
    handles = [durable.start(withdraw_flow, f"ser-{n}", name, run_id=f"ser-{n}")
               for n, name in ((3, "a"), (4, "b"))]  # fmt: skip
    for handle in handles:
        with contextlib.suppress(Exception):  # the loser's error is checked below
            handle.result(timeout=30)
    statuses = sorted(Run.objects.values_list("status", flat=True))
    assert statuses == ["ERROR", "SUCCESS"]
    loser = Run.objects.get(status="ERROR")
    assert "could not serialize access" in loser.error["message"]
    assert Attempt.objects.get(run_id=loser.id).final
    assert side_effects() == {"withdrawn": 1}
