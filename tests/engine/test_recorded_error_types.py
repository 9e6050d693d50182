"""A recorded error is raised again as its own class only when that class is an Exception in
a loaded module; what a file brought, only when it is in the safe set (builtins, durable, a
module that defines registered workflows or steps, or registered by the project). Anything
else is a plain WorkflowError naming the type; no module is ever imported to find a class."""

from __future__ import annotations

import json
import sys

import pytest

import durable
from durable.core._serialization import error_from_dict
from durable.errors import WorkflowError
from tests.engine.debug_workflows import PaymentDeclined


def _recorded(error_type: str, message: str = "boom") -> dict:
    return {"type": error_type, "message": message, "args": [message], "traceback": "tb"}


@pytest.mark.parametrize(
    "error_type", ["builtins.SystemExit", "builtins.KeyboardInterrupt", "builtins.GeneratorExit",
                   "builtins.BaseException", "asyncio.exceptions.CancelledError"],
)  # fmt: skip
@pytest.mark.parametrize("from_file", [False, True])
def test_a_base_exception_that_is_no_exception_is_never_raised_from_a_record(error_type, from_file):
    rebuilt = error_from_dict(_recorded(error_type), from_file=from_file)
    assert type(rebuilt) is WorkflowError
    assert error_type in str(rebuilt)


def test_a_type_naming_an_unloaded_module_imports_nothing(tmp_path, monkeypatch):
    marker = tmp_path / "imported.txt"
    (tmp_path / "planted_side_effects.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Boom(Exception):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    rebuilt = error_from_dict(_recorded("planted_side_effects.Boom"))
    assert type(rebuilt) is WorkflowError and "planted_side_effects.Boom" in str(rebuilt)
    assert "planted_side_effects" not in sys.modules
    assert not marker.exists()


def test_a_library_error_the_engine_recorded_is_raised_again_as_its_class():
    # a workflow that catches a library's error from a step catches it on replay too
    rebuilt = error_from_dict(_recorded("json.decoder.JSONDecodeError"))
    assert type(rebuilt) is json.JSONDecodeError and rebuilt.args == ("boom",)


def test_a_loaded_library_class_nobody_registered_is_a_workflow_error_when_a_file_brought_it():
    rebuilt = error_from_dict(_recorded("json.decoder.JSONDecodeError"), from_file=True)
    assert type(rebuilt) is WorkflowError and "json.decoder.JSONDecodeError" in str(rebuilt)


def test_builtin_durable_and_registered_workflow_module_errors_keep_their_class():
    assert type(error_from_dict(_recorded("builtins.ValueError"))) is ValueError
    dead = error_from_dict(_recorded("durable.errors.RunDeadError"))
    assert type(dead) is durable.errors.RunDeadError
    declined = error_from_dict(_recorded("tests.engine.debug_workflows.PaymentDeclined"))
    assert type(declined) is PaymentDeclined and str(declined) == "boom"


def test_a_class_the_project_registers_keeps_its_class():
    class LedgerLocked(Exception):
        pass

    LedgerLocked.__module__ = "tests.engine.ledger_errors_fake"
    LedgerLocked.__qualname__ = "LedgerLocked"
    recorded = _recorded("tests.engine.ledger_errors_fake.LedgerLocked")
    assert type(error_from_dict(recorded, from_file=True)) is WorkflowError
    durable.register_error_type(LedgerLocked)
    assert type(error_from_dict(recorded, from_file=True)) is LedgerLocked


def test_an_attribute_path_through_a_module_never_reaches_a_foreign_class():
    # tests.engine.debug_workflows imports durable; durable.errors is safe, but a path that
    # walks from a registered module into another module's namespace is not a class it defines
    path = "tests.engine.debug_workflows.durable.errors.WorkflowError"
    rebuilt = error_from_dict(_recorded(path))
    assert type(rebuilt) is WorkflowError and "debug_workflows.durable" in str(rebuilt)


def test_recorded_attributes_cannot_set_dunder_names():
    error = {**_recorded("builtins.ValueError"), "attrs": {"__class__": "x", "code": 7}}
    rebuilt = error_from_dict(json.loads(json.dumps(error)))
    assert type(rebuilt) is ValueError and rebuilt.code == 7
