"""'Why isn't it moving?' for a waiting run: how many runs a claim takes before it (in the
claim's own order), the busy and free threads of the executors that run it, the limit that
holds it, when it would start at its queue's pace, and the operator's ways out."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db.models.functions import Now
from django.utils import timezone

from durable import operations, queues
from durable.core import store
from durable.models import AuditEntry, Executor, Run
from tests.dashboard.conftest import make_failed_run, make_run

pytestmark = pytest.mark.django_db

WORKFLOWS = ["shop.order"]


def _waiting(run_id: str, seconds_ago: float, queue: str = "default", **fields) -> Run:
    due = timezone.now() - timedelta(seconds=seconds_ago)
    return make_run(id=run_id, status="ENQUEUED", queue=queue, available_at=due,
                    started_at=None, finished_at=None, **fields)  # fmt: skip


def _seed_backlog(queue: str, target_priority: int = 0) -> Run:
    """A shuffled backlog around one target run (due 100 s ago): runs due earlier, later,
    with higher and lower priorities, not yet due, running, and in another queue."""
    rng = random.Random(24)
    seconds = rng.sample(range(1, 400), 60)
    rows = []
    for n, ago in enumerate(seconds):
        rows.append((f"b-{n:02}", ago + 0.5, rng.choice([0, 0, 0, 5, -5])))
    for run_id, ago, priority in rows:
        _waiting(run_id, ago, queue, priority=priority)
    _waiting("not-due", -60, queue, priority=9)
    make_run(id="running", status="RUNNING", queue=queue, finished_at=None, priority=9)
    _waiting("elsewhere", 300, "other", priority=9)
    return _waiting("target", 100, queue, priority=target_priority)


def _claim_order(queue: str) -> list[str]:
    """The ids of the queue's due runs, in the order claims take them."""
    limits = queues.stored_limits(queue)
    if limits is not None and limits.special:
        return queues.queue_heads(limits, WORKFLOWS, 1000)
    return [
        run_id
        for run_id in store.due_runs(WORKFLOWS, 1000)
        if Run.objects.get(id=run_id).queue == queue
    ]


def test_runs_ahead_in_the_plain_queue_is_the_target_s_place_in_claim_order():
    _seed_backlog("default")
    ahead = queues.runs_ahead("target")
    assert ahead == _claim_order("default").index("target")
    due = Run.objects.get(id="target").available_at
    earlier = Run.objects.filter(
        queue="default", status="ENQUEUED", priority=0, available_at__lt=due
    )
    higher = Run.objects.filter(
        queue="default", status="ENQUEUED", priority__gt=0, available_at__lte=timezone.now()
    )
    assert ahead == earlier.count() + higher.count() > 0


def test_runs_ahead_in_a_priority_queue_and_in_a_limited_queue_without_priority():
    queues.set_limits("vip", concurrency=2, priority=True, actor="ops")
    _seed_backlog("vip")
    assert queues.runs_ahead("target") == _claim_order("vip").index("target")
    Run.objects.filter(id="target").update(queue="mail")
    Run.objects.filter(queue="vip").update(queue="mail")
    queues.set_limits("mail", concurrency=2, actor="ops")  # no priority: by due time only
    ahead = queues.runs_ahead("target")
    assert ahead == _claim_order("mail").index("target")
    assert (
        ahead
        == Run.objects.filter(
            queue="mail",
            status="ENQUEUED",
            available_at__lt=Run.objects.get(id="target").available_at,
        ).count()
    )


def _serving_executor(threads: int, busy: int) -> None:
    store.heartbeat(executor_id="ex-1", kind="thread", hostname="h", pid=1, workflows=WORKFLOWS)
    Executor.objects.filter(id="ex-1").update(threads=threads)
    for n in range(busy):
        make_run(id=f"busy-{n}", status="RUNNING", executor_id="ex-1", queue="mail",
                 finished_at=None, claimed_at=timezone.now() - timedelta(seconds=30))  # fmt: skip


def test_the_run_page_tells_runs_ahead_threads_limit_pace_and_ways_out(owner_client):
    queues.set_limits("mail", concurrency=3, actor="ops")
    _serving_executor(threads=8, busy=3)
    for n in range(4):
        _waiting(f"m-{n}", 200 - n, "mail")
    _waiting("mine", 10, "mail")
    page = owner_client.get("/runs/mine/").content.decode()
    why = page[page.index('id="waiting"') :]
    assert '<li id="runs-ahead"><strong>4</strong> runs ahead of it in queue' in why
    assert "ex-1</span> 3 busy / 5 free of 8 threads" in why
    assert "at its concurrency limit (3 of 3 running)" in why
    # 3 claims in the last 5 minutes: 0.6 a minute; 5 starts to go: about 8.3 minutes
    assert "0.6 starts a minute" in why and "about 8.3 min" in why
    assert 'action="/actions/run-first/"' in why and 'action="/actions/move/"' in why
    assert 'data-raise-limit="mail"' in why and 'name="run_id" value="mine"' in why


def test_viewers_see_the_answer_without_the_buttons(viewer_client):
    _waiting("mine", 10)
    page = viewer_client.get("/runs/mine/").content.decode()
    assert 'id="runs-ahead"' in page and 'id="ways-out"' not in page


def test_run_first_puts_the_run_at_the_head_of_its_queue_audited(owner_client):
    _seed_backlog("default")
    owner_client.post("/actions/run-first/", {"run_id": "target", "reason": "INC-1 fix"})
    assert Run.objects.get(id="target").priority == operations.RUN_FIRST
    assert queues.runs_ahead("target") == 0 == _claim_order("default").index("target")
    entry = AuditEntry.objects.get(action="prioritize")
    assert (entry.actor, entry.run_ids, entry.detail["reason"]) == (
        "owner",
        ["target"],
        "INC-1 fix",
    )


def test_move_to_another_queue_is_audited_and_refused_for_a_run_not_waiting(owner_client):
    _waiting("mine", 10, "mail")
    response = owner_client.post("/actions/move/", {"run_id": "mine", "queue": "fast"})
    assert response.status_code == 302 and Run.objects.get(id="mine").queue == "fast"
    assert AuditEntry.objects.get(action="move").detail["queue"] == "fast"
    make_run(id="done")
    owner_client.post("/actions/move/", {"run_id": "done", "queue": "fast"})
    assert Run.objects.get(id="done").queue == "default"
    page = owner_client.get("/runs/done/").content.decode()
    assert "only an enqueued run waits in line" in page


def test_a_viewer_cannot_move_or_prioritize(viewer_client):
    _waiting("mine", 10, "mail")
    assert viewer_client.post("/actions/move/", {"run_id": "mine", "queue": "x"}).status_code == 403
    assert viewer_client.post("/actions/run-first/", {"run_id": "mine"}).status_code == 403
    assert Run.objects.get(id="mine").queue == "mail"


def test_a_fork_made_with_run_first_jumps_the_backlog(owner_client):
    failed = make_failed_run(id="broken")
    _seed_backlog("default")
    owner_client.post("/actions/fork/", {"run_id": "broken", "from_step": 1, "run_first": "1"})
    fork = Run.objects.get(forked_from_id="broken")
    assert fork.priority == operations.RUN_FIRST and failed.priority == 0
    # due a second before this test's transaction began (the database's now(), which the
    # claim order reads, is that moment; a loaded machine can be seconds past it by here)
    Run.objects.filter(id=fork.id).update(available_at=Now() - timedelta(seconds=1))
    assert queues.runs_ahead(fork.id) == 0 == _claim_order("default").index(fork.id)


def test_a_restart_made_with_run_first_runs_before_the_backlog(owner_client, engine, settings):
    """A real thread executor with one thread, started once the backlog is in line."""
    import durable
    from durable.executors.thread import ThreadExecutor
    from tests.dashboard.conftest import wait_until_finished
    from tests.monitoring.workflows import checkout

    settings.DURABLE_EXECUTOR = "external"  # durable.start only records the runs
    for n in range(20):
        durable.start(checkout, f"q-{n}", n, run_id=f"q-{n}")
    make_run(id="done-once", workflow="tests.monitoring.checkout",
             input={"args": ["again", 7], "kwargs": {}})  # fmt: skip
    owner_client.post("/actions/restart/", {"run_id": "done-once", "run_first": "1"})
    again = Run.objects.get(forked_from_id="done-once")
    executor = ThreadExecutor(threads=1, poll_seconds=0.05)
    executor.start()
    try:
        assert wait_until_finished(again.id, timeout=30) == "SUCCESS"
        started = Run.objects.get(id=again.id).started_at  # its first claim
        # none of the backlog started before it (without run first, all 20 would have)
        assert not Run.objects.filter(id__startswith="q-", started_at__lte=started).exists()
    finally:
        executor.shutdown(wait=True)


def test_hostile_ways_out_change_nothing_and_say_why(owner_client):
    _waiting("mine", 10, "mail")
    queues.set_limits("mail", concurrency=1, actor="ops")
    bad_move = owner_client.post("/actions/move/", {"run_id": "mine", "queue": "q\x07<x>"})
    raise_url = "/actions/queue-limits/raise/"
    bad = {"name": "mail", "limit": "sky", "value": "-3", "run_id": "mine"}
    bad_raise = owner_client.post(raise_url, bad)
    good = {"name": "mail", "limit": "concurrency", "value": "2", "run_id": "../../admin"}
    forged = owner_client.post(raise_url, good)
    assert bad_move.status_code == bad_raise.status_code == forged.status_code == 302
    assert bad_raise["Location"] == "/runs/mine/" and forged["Location"] == "/system/"
    assert Run.objects.get(id="mine").queue == "mail"
    assert queues.stored_limits("mail").concurrency == 2  # only the well-formed raise
    page = owner_client.get("/runs/mine/").content.decode()
    assert "control characters" in page and "Select a valid choice" in page
