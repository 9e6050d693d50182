"""A run id is an idempotency key: starting it again never executes a second run."""

from __future__ import annotations

import pytest

import durable
from durable.errors import InvalidRunIdError, RunIdConflictError, RunNotFoundError
from durable.models import Run
from tests.engine.workflows import ledger, sum_three


def test_starting_an_existing_run_id_returns_the_same_run(side_effects):
    first = durable.start(ledger, "idem-1", ["x"], run_id="idem-1")
    first.result(timeout=10)
    second = durable.start(ledger, "idem-1", ["x"], run_id="idem-1")
    assert second == first and second.result(timeout=10) == ["x"]
    assert side_effects("idem-1") == {"x": 1}
    assert Run.objects.filter(id="idem-1").count() == 1


def test_concurrent_starts_of_one_id_execute_once(side_effects):
    handles = [durable.start(ledger, "idem-2", ["y"], run_id="idem-2") for _ in range(5)]
    assert {h.result(timeout=10)[0] for h in handles} == {"y"}
    assert side_effects("idem-2") == {"y": 1}


def test_reusing_a_run_id_for_another_workflow_is_refused(transactional_db):
    durable.start(sum_three, 1, 1, 1, run_id="idem-3").result(timeout=10)
    with pytest.raises(RunIdConflictError, match="tests.sum_three"):
        durable.start(ledger, "idem-3", [], run_id="idem-3")


@pytest.mark.parametrize("bad", ["", " spaced", "a b", "x" * 201, "<script>", "new\nline", 42])
def test_malformed_run_ids_are_refused_with_a_hint(transactional_db, bad):
    with pytest.raises(InvalidRunIdError, match="order-42"):
        durable.start(sum_three, 1, 2, 3, run_id=bad)
    assert not Run.objects.exists()


def test_getting_an_unknown_run_says_so(transactional_db):
    with pytest.raises(RunNotFoundError):
        durable.get("no-such-run")
    assert durable.get(durable.start(sum_three, 1, 2, 3).run_id).result(timeout=10) == 6
