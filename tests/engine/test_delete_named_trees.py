"""Deleting runs named together with runs of their own trees: each named id gets one
outcome, the one the database shows afterwards, however the request is split into batches,
and the audit log records every run deleted."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durable import operations
from durable.core import _clock as clock
from durable.models import AuditEntry, Run, RunStatus
from durable.operations import _batches as operation_batches
from tests.tiers import examples


@pytest.fixture
def external(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"


def _runs(parents: dict[str, str | None], status: str = RunStatus.SUCCESS) -> None:
    """Finished runs with the given parents (parents listed before their children)."""
    for run_id, parent in parents.items():
        Run.objects.create(id=run_id, workflow="tests.ledger", status=status,
                           parent_id=parent, finished_at=clock.now())  # fmt: skip


def _audited() -> tuple[set[str], set[str], set[str]]:
    """Done, refused and cascaded ids over every delete entry of the audit log."""
    done, refused, cascaded = set(), set(), set()
    for detail in AuditEntry.objects.filter(action="delete").values_list("detail", flat=True):
        done.update(detail["done"])
        refused.update(detail["refused"])
        cascaded.update(detail.get("cascaded", []))
    return done, refused, cascaded


def test_a_named_grandchild_goes_with_its_named_grandparent_and_counts_as_done(external):
    _runs({"g": None, "p": "g", "c": "p"})
    result = operations.delete(["g", "c"])
    assert result.refused == {}
    assert result.done == {"g": "g", "c": "c"} and result.cascaded == ["p"]
    assert not Run.objects.exists()
    assert _audited() == ({"g", "c"}, set(), {"p"})


def test_a_named_grandchild_named_first_goes_with_its_grandparent(external):
    _runs({"g": None, "p": "g", "c": "p"})
    result = operations.delete(["c", "g"])
    assert result.done == {"c": "c", "g": "g"} and result.refused == {}
    assert not Run.objects.exists()


def test_a_named_child_without_a_named_ancestor_is_refused_and_kept(external):
    _runs({"g": None, "p": "g", "c": "p", "other": None})
    result = operations.delete(["c", "other"])
    assert result.done == {"other": "other"}
    assert "child of run p, which is kept" in result.refused["c"]
    assert set(Run.objects.values_list("id", flat=True)) == {"g", "p", "c"}


def test_a_named_grandchild_of_a_refused_grandparent_is_refused_with_its_reason(external):
    _runs({"g": None, "p": "g", "c": "p"})
    _runs({"live": "p"}, status=RunStatus.RUNNING)
    result = operations.delete(["g", "c"])
    assert result.done == {}
    assert "descendant run live has not finished" in result.refused["g"]
    assert result.refused["c"].startswith("its ancestor g is kept: its descendant run live")
    assert Run.objects.count() == 4


def test_trees_named_across_batches_are_deleted_whole_in_one_batch(external, monkeypatch):
    monkeypatch.setattr(operation_batches, "BATCH_SIZE", 2)
    _runs({"a": None, "a1": "a", "a2": "a1", "b": None, "b1": "b", "y": None, "y1": "y"})
    # batches of two: a2's root comes in a later batch, b1's in an earlier one, and y1 has
    # no named ancestor
    result = operations.delete(["a2", "y1", "b", "a", "b1", "nope"])
    assert result.done == {"a2": "a2", "b": "b", "a": "a", "b1": "b1"}
    assert result.refused.keys() == {"y1", "nope"} and result.refused["nope"] == "no such run"
    assert result.cascaded == ["a1"]
    assert set(Run.objects.values_list("id", flat=True)) == {"y", "y1"}
    assert _audited() == ({"a2", "b", "a", "b1"}, {"y1", "nope"}, {"a1"})


def test_a_repeated_tree_batched_delete_returns_the_first_outcome(external, monkeypatch):
    monkeypatch.setattr(operation_batches, "BATCH_SIZE", 2)
    _runs({"a": None, "a1": "a", "a2": "a1", "b": None, "b1": "b", "y": None, "y1": "y"})
    request = ["a2", "y1", "b", "a", "b1"]
    first = operations.delete(request, request_id="form-1", actor="alice")
    again = operations.delete(request, request_id="form-1", actor="bob")
    assert (again.done, again.refused) == (first.done, first.refused)
    assert again.cascaded == first.cascaded == ["a1"]
    assert again.previous["actor"] == "alice"
    assert AuditEntry.objects.filter(action="delete").count() == 2  # the first call's batches


NAMES = [f"r{i}" for i in range(8)]


@st.composite
def forests(draw):
    """Finished runs r0..r7, each a root or a child of an earlier one, some of them named
    (in any order, with an id that does not exist), and a batch size."""
    parents = {}
    for i, run_id in enumerate(NAMES):
        parent = draw(st.none() | st.sampled_from(NAMES[:i])) if i else None
        parents[run_id] = parent
    named = draw(st.lists(st.sampled_from([*NAMES, "missing"]), unique=True, min_size=1))
    return parents, named, draw(st.integers(1, 4))


def _ancestors(run_id: str, parents: dict[str, str | None]) -> list[str]:
    found = []
    while parents.get(run_id) is not None:
        run_id = parents[run_id]
        found.append(run_id)
    return found


@given(forests())
@settings(max_examples=examples(30), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
def test_every_named_id_gets_the_one_outcome_the_database_shows(external, monkeypatch, case):
    parents, named, batch_size = case
    Run.objects.all().delete()
    AuditEntry.objects.all().delete()
    monkeypatch.setattr(operation_batches, "BATCH_SIZE", batch_size)
    _runs(parents)
    result = operations.delete(named)
    left = set(Run.objects.values_list("id", flat=True))
    assert set(result.done) | set(result.refused) == set(named)
    assert not set(result.done) & set(result.refused)
    # a named run goes when it, or a named ancestor, is a root (all runs here finished)
    gone = {run_id for run_id in NAMES if run_id not in left}
    expected = {
        run_id
        for run_id in NAMES
        for top in [run_id, *_ancestors(run_id, parents)]
        if parents[top] is None and top in named
    }
    assert gone == expected
    assert set(result.done) == set(named) & gone
    assert set(result.refused) == (set(named) - gone)
    assert set(result.cascaded) == gone - set(named)
    done, refused, cascaded = _audited()
    assert done | cascaded == gone and not (done | cascaded) & refused
