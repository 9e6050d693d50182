"""A child's run id is its parent's own: it never collides with a user's run id, fits the
id length whatever the parent's, and a child start never adopts a run that is not its own."""

from __future__ import annotations

import pytest

import durable
from durable.errors import InvalidRunIdError, RunIdConflictError
from durable.models import Run
from tests.engine.workflows import child


@durable.workflow(name="tests.child_ids.parent")
def parent(run_id: str) -> str:
    return durable.start(child, run_id).result()


@durable.workflow(name="tests.child_ids.parent_naming_its_child")
def parent_naming_its_child(run_id: str, child_id: str) -> str:
    return durable.start(child, run_id, run_id=child_id).result()


def test_a_parent_never_adopts_a_user_run_that_has_its_childs_old_id(side_effects):
    unrelated = durable.start(child, "someone-else", run_id="ids-1.0")
    assert unrelated.result(timeout=10) == "child-done"
    assert durable.run(parent, "ids-1", run_id="ids-1") == "child-done"
    (own,) = durable.get("ids-1").children()
    assert own.run_id != "ids-1.0"
    assert Run.objects.get(id=own.run_id).parent_id == "ids-1"
    assert side_effects("ids-1") == {"child-ran": 1}


def test_a_child_start_refuses_an_existing_run_that_is_not_its_child(side_effects):
    durable.run(child, "unrelated", run_id="ids-taken")
    with pytest.raises(RunIdConflictError, match="not a child of run ids-2"):
        durable.run(parent_naming_its_child, "ids-2", "ids-taken", run_id="ids-2")
    assert Run.objects.get(id="ids-taken").parent_id is None
    assert side_effects("ids-2") == {}


def test_children_of_a_parent_with_a_long_id_get_valid_ids(side_effects):
    long_id = "p" * 200
    assert durable.run(parent, "ids-long", run_id=long_id) == "child-done"
    (own,) = durable.get(long_id).children()
    assert len(own.run_id) <= 200 and own.run_id.startswith("p" * 100)
    assert durable.get(own.run_id).status() == "SUCCESS"


def test_users_cannot_start_runs_with_the_childrens_reserved_character(transactional_db):
    with pytest.raises(InvalidRunIdError, match="reserved"):
        durable.start(child, "x", run_id="order~0")
