"""Workflows register on import; runs of unknown workflows are reported, never dropped."""

from __future__ import annotations

import pytest
from django.utils import timezone

import durable
from durable.core import _registry as registry
from durable.core import store
from durable.errors import UnknownWorkflowError
from durable.models import Run


def test_starting_an_unknown_workflow_name_says_how_to_register_it(transactional_db):
    with pytest.raises(UnknownWorkflowError, match="DURABLE_MODULES"):
        durable.start("no.such.workflow")


def test_a_workflow_is_registered_under_its_name_with_a_source_version():
    definition = registry.get_workflow("tests.sum_three")
    assert len(definition.version) == 12


def test_runs_of_workflows_this_executor_lacks_stay_enqueued_and_are_reported(
    transactional_db, caplog
):
    Run.objects.create(
        id="orphan-1",
        workflow="elsewhere.only",
        input={"args": [], "kwargs": {}},
        available_at=timezone.now(),
    )
    assert store.due_runs(registry.runnable_keys(), 10) == []
    assert store.unclaimable_workflows(registry.runnable_keys()) == [("elsewhere.only", "", 1)]
    assert Run.objects.get(id="orphan-1").status == "ENQUEUED"
