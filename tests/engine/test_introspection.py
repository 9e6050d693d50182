"""Introspection: listing runs with filters, a run's steps, children and events, and
durable.current() inside a workflow and its steps."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

import durable
from durable import client
from durable.core import _introspection as introspection
from durable.errors import InvalidArgumentError, RunNotFoundError
from durable.models import Run, RunStatus

FAILS: dict[str, int] = {}


@durable.step(retries=2, retry_delay=0.01)
def charge(order: str) -> dict:
    if FAILS.get(order, 0) > 0:
        FAILS[order] -= 1
        raise ConnectionError(f"gateway timeout for {order}")
    return {"charged": order, "where": dataclasses.asdict(durable.current())}


@durable.step()
def refuse(order: str) -> None:
    raise ValueError(f"{order} is out of stock")


@durable.workflow(name="tests.introspection.checkout")
def checkout(order: str, fail: bool = False) -> dict:
    body = dataclasses.asdict(durable.current())
    receipt = charge(order)
    durable.set_event("receipt", receipt["charged"])
    durable.set_event("amount", 42)
    if fail:
        refuse(order)
    return {"body": body, "step": receipt["where"]}


@durable.workflow(name="tests.introspection.batch")
def batch(orders: list[str]) -> list[dict]:
    handles = [durable.start(checkout, order) for order in orders]
    return [handle.result(timeout=30) for handle in handles]


def waiting_run(run_id: str, **options) -> None:
    """A run that stays ENQUEUED: no executor has this workflow."""
    client.start("tests.introspection.nowhere", run_id=run_id, strict=False, **options)


def test_current_is_none_outside_a_workflow(transactional_db):
    assert durable.current() is None


def test_current_names_the_run_in_the_body_and_the_step_and_attempt_inside_a_step(
    transactional_db,
):
    FAILS["order-1"] = 1
    output = durable.run(checkout, "order-1", run_id="current-1")
    version = checkout.__durable_workflow__.version
    run = {"run_id": "current-1", "workflow": "tests.introspection.checkout", "version": version}
    assert output["body"] == {**run, "step": None, "position": None, "attempt": None}
    assert output["step"] == {**run, "step": charge.__durable_step__.name, "position": 0,
                              "attempt": 2}  # fmt: skip


def test_steps_list_the_history_with_decoded_outputs_errors_and_failed_attempts(
    transactional_db,
):
    FAILS["order-2"] = 1
    handle = durable.start(checkout, "order-2", fail=True, run_id="steps-1")
    with pytest.raises(ValueError, match="out of stock"):
        handle.result(timeout=30)

    steps = handle.steps()
    assert [(s.position, s.kind, s.status) for s in steps] == [
        (0, "step", "SUCCESS"), (1, "set_event", "SUCCESS"), (2, "set_event", "SUCCESS"),
        (3, "step", "ERROR"),
    ]  # fmt: skip
    charged, _, amount, refused = steps
    assert charged.output["charged"] == "order-2" and charged.input == {
        "args": ["order-2"], "kwargs": {}}  # fmt: skip
    assert charged.attempts == 2
    [failure] = charged.failures
    assert failure.attempt == 1 and failure.error["message"] == "gateway timeout for order-2"
    assert amount.output == 42
    assert refused.error["type"] == "builtins.ValueError" and refused.output is None
    assert steps == durable.list_steps("steps-1")


def test_a_run_record_holds_its_input_output_error_and_times(transactional_db):
    durable.run(checkout, "order-3", run_id="record-1")
    run = durable.get_run("record-1")
    assert (run.workflow, run.status, run.queue) == ("tests.introspection.checkout", "SUCCESS",
                                                     "default")  # fmt: skip
    assert run.input == {"args": ["order-3"], "kwargs": {}}
    assert run.output["step"]["run_id"] == "record-1" and run.error is None
    assert run.created_at <= run.started_at <= run.finished_at
    assert run.version == checkout.__durable_workflow__.version and run.parent_id is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = "ERROR"


def test_children_are_the_runs_a_run_started_oldest_first(transactional_db):
    durable.run(batch, ["a", "b"], run_id="batch-1")
    children = durable.list_children("batch-1")
    assert [child.input["args"] for child in children] == [["a"], ["b"]]
    assert {child.parent_id for child in children} == {"batch-1"}
    assert durable.list_children(children[0].id) == []


def test_events_are_listed_by_key_with_their_values(transactional_db):
    durable.run(checkout, "order-4", run_id="events-1")
    events = durable.list_events("events-1")
    assert [(event.key, event.value) for event in events] == [
        ("amount", 42), ("receipt", "order-4")]  # fmt: skip


def test_unknown_runs_are_reported_not_answered_with_empty_lists(transactional_db):
    for read in (durable.get_run, durable.list_steps, durable.list_children, durable.list_events):
        with pytest.raises(RunNotFoundError, match="no-such-run"):
            read("no-such-run")


def test_list_runs_filters_by_status_workflow_queue_tags_and_start_time(transactional_db):
    durable.run(checkout, "order-5", run_id="done-1")
    with pytest.raises(ValueError):
        durable.run(checkout, "order-6", fail=True, run_id="failed-1")
    before = timezone.now()
    waiting_run("wait-1", queue="emails", tags={"customer": "acme", "tier": "gold"})
    waiting_run("wait-2", tags={"customer": "acme"})

    def ids(**filters) -> list[str]:
        return [run.id for run in durable.list_runs(**filters)]

    assert ids(status="SUCCESS") == ["done-1"]
    assert ids(status=["ERROR", "SUCCESS"]) == ["failed-1", "done-1"]
    assert ids(workflow="tests.introspection.checkout", status="ENQUEUED") == []
    assert ids(workflow="tests.introspection.nowhere") == ["wait-2", "wait-1"]
    assert ids(queue="emails") == ["wait-1"]
    assert ids(version="") == ["wait-2", "wait-1"]  # started by name, not claimed yet
    assert ids(version=checkout.__durable_workflow__.version) == ["failed-1", "done-1"]
    assert ids(tags={"customer": "acme"}) == ["wait-2", "wait-1"]
    assert ids(tags={"customer": "acme", "tier": "gold"}) == ["wait-1"]
    assert ids(started_after=before) == ["wait-2", "wait-1"]
    assert ids(started_before=before) == ["failed-1", "done-1"]
    assert ids(started_before=before, order="oldest") == ["done-1", "failed-1"]
    assert ids(limit=1) == ["wait-2"]


def test_pages_walk_every_run_once_in_order_even_when_start_times_tie(transactional_db):
    with transaction.atomic():  # one transaction: every run has the same created_at
        for n in range(7):
            waiting_run(f"tie-{n}")
    waiting_run("later")
    for order, expected in (("newest", ["later", *[f"tie-{n}" for n in range(6, -1, -1)]]),
                            ("oldest", [*[f"tie-{n}" for n in range(7)], "later"])):  # fmt: skip
        for limit in range(1, 10):
            seen, cursor = [], None
            while page := durable.list_runs(limit=limit, order=order, cursor=cursor):
                seen += [run.id for run in page]
                cursor = page[-1].cursor
            assert seen == expected, (order, limit)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"status": "DONE"}, "ENQUEUED, RUNNING, SUCCESS, ERROR, CANCELLED, DEAD"),
        ({"status": []}, "status"),
        ({"order": "random"}, "newest, oldest"),
        ({"limit": 0}, "from 1 to 1000"),
        ({"limit": "10"}, "limit"),
        ({"started_after": datetime(2026, 1, 1)}, "timezone-aware"),  # noqa: DTZ001
        ({"started_before": "yesterday"}, "started_before"),
        ({"tags": ["customer"]}, "tags"),
        ({"workflow": 7}, "workflow"),
        ({"version": 3}, "version"),
        ({"cursor": "not-a-cursor"}, "list_runs returned"),
    ],
)
def test_bad_filters_are_refused_with_what_is_allowed(transactional_db, filters, message):
    with pytest.raises(InvalidArgumentError, match=message):
        durable.list_runs(**filters)


def _rare(n: int, rare: str, common: str, slot: int) -> str:
    """`rare` for one row in 150 (the value the test filters on), else `common`."""
    return rare if n % 150 == slot else common


@pytest.fixture(scope="module")
def seeded_runs(django_db_setup, django_db_blocker):
    """1,500 analyzed runs in which each filtered value is rare (10 rows) and the last hour
    holds 60: the index that holds a filter is then the planner's cheapest path, whatever
    statistics an earlier test left behind. Seeded and analyzed once for the module (two
    seconds each time), committed, and deleted after its last test; the tests that read them
    use `db` (a transaction rolled back), which leaves them in place."""
    with django_db_blocker.unblock():
        Run.objects.bulk_create(
            Run(
                id=f"seed-{n}",
                workflow=_rare(n, "w7", "common", 7),
                status=_rare(n, "ERROR", _rare(n, "DEAD", "SUCCESS", 1), 0),
                queue=_rare(n, "q3", "default", 3),
                version=_rare(n, "v5", "v1", 5),
                tags={"customer": _rare(n, "c9", "others", 9)},
                input={},
            )  # fmt: skip
            for n in range(1500)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE durable_run SET created_at = now() - split_part(id, '-', 2)::int"
                " * interval '1 minute'"
            )
            cursor.execute("ANALYZE durable_run")
    yield
    with django_db_blocker.unblock():
        Run.objects.filter(id__startswith="seed-").delete()


WORKFLOW_INDEXES = ("run_workflow_created_idx", "run_workflow_status_idx")


@pytest.mark.parametrize(
    ("filters", "indexes"),
    [
        pytest.param({}, ("run_created_idx",), id="none"),
        pytest.param({"status": "ERROR"}, ("run_status_created_idx",), id="status"),
        pytest.param({"status": ["ERROR", "DEAD"]}, ("run_status_created_idx",), id="statuses"),
        pytest.param({"workflow": "w7"}, WORKFLOW_INDEXES, id="workflow"),
        pytest.param(
            {"workflow": "w7", "status": "ERROR"},
            ("run_workflow_status_idx",),
            id="workflow+status",
        ),  # fmt: skip
        pytest.param({"queue": "q3"}, ("run_queue_created_idx",), id="queue"),
        pytest.param(
            {"queue": "q3", "status": "ERROR"}, ("run_queue_status_idx",), id="queue+status"
        ),
        pytest.param({"version": "v5"}, ("run_version_created_idx",), id="version"),
        pytest.param({"tags": {"customer": "c9"}}, ("run_tags_gin",), id="tags"),
        pytest.param(
            {"started_after": timedelta(hours=1)},
            ("run_created_idx",),
            id="started_after an hour ago",
        ),  # fmt: skip
    ],
)
def test_each_filter_is_served_by_its_index(seeded_runs, db, filters, indexes):
    """With sequential scans priced out and selective values, the planner reads the filter
    from an index that holds it (`started_after` counts back from now: no id carries a time)."""
    if "started_after" in filters:
        filters = {"started_after": timezone.now() - filters["started_after"]}
    unset = dict.fromkeys(("status", "workflow", "version", "queue", "tags", "started_after",
                           "started_before"))  # fmt: skip
    runs = introspection._matching(**{**unset, **filters})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = runs.order_by("-created_at", "-id")[:100].explain()
    assert "Seq Scan" not in plan and any(f" {index} " in plan for index in indexes), plan
    assert not filters or "Index Cond" in plan, plan


def test_a_run_started_by_name_shows_no_version_until_claimed(transactional_db):
    waiting_run("unversioned-1")
    run = durable.get_run("unversioned-1")
    assert (run.status, run.version) == (RunStatus.ENQUEUED, "")
    assert Run.objects.get(id="unversioned-1").workflow == run.workflow
