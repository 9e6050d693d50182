"""Workflow names are bounded labels (pages, metrics): one rule for @durable.workflow and
for runs imported from a file."""

from __future__ import annotations

import pytest

import durable
from durable.errors import InvalidArgumentError


@pytest.mark.parametrize("name", ["a b", "x" * 301, "shop\ncheckout", "9lives", "é.checkout"])
def test_a_workflow_name_outside_the_rule_is_refused_when_decorated(name):
    with pytest.raises(InvalidArgumentError, match="not a workflow name"):

        @durable.workflow(name=name)
        def flow() -> None: ...


def test_dotted_paths_and_nested_functions_are_names():
    @durable.workflow()
    def nested() -> None: ...

    assert nested.workflow_name.endswith("<locals>.nested")
    assert durable.workflow(name="shop.orders:checkout-v2")(lambda: None).workflow_name
