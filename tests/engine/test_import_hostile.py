"""`durable import` treats the file as hostile: a malformed file is refused with one line
naming the field and what to do, before anything is written; never a traceback."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durable.debugging import importing
from durable.debugging.importing import ImportRefused
from durable.models import Attempt, AuditEntry, Run, Step
from tests.engine.import_files import AT, document, error_record, run_entry, step_record, write
from tests.tiers import examples


def _refusal(value) -> str:
    text = value if isinstance(value, str | bytes) else json.dumps(value)
    with pytest.raises(ImportRefused) as refused:
        importing.import_text(text, name="run.json")
    message = str(refused.value)
    assert "\n" not in message, message
    return message


def _nothing_written() -> None:
    assert not Run.objects.exists() and not Step.objects.exists()
    assert not Attempt.objects.exists() and not AuditEntry.objects.exists()


MALFORMED = [
    # (what the file holds, a fragment the one-line refusal names)
    ("{", "not JSON"),
    ('{"format": "durable.run-export", "format_version": 1, "runs": [', "not JSON"),
    ("", "not JSON"),
    ("[1, 2]", "top level: must be an object"),
    ('"a string"', "top level: must be an object"),
    ("null", "top level: must be an object"),
    ({"hello": 1}, "not a run export"),
    ({**document(run_entry("a")), "format_version": 99}, "format_version"),
    ({**document(run_entry("a")), "format_version": "1"}, "format_version"),
    ({**document(run_entry("a")), "format_version": True}, "format_version"),
    ({**document(run_entry("a")), "runs": {}}, "runs: must be a list"),
    (document(), "runs: must hold at least one run"),
    (document("not an entry"), "runs[0]: must be an object"),
    (document({"steps": []}), "runs[0].run: is missing"),
    (document(run_entry(7)), "runs[0].run.id"),
    (document(run_entry("a", status="PAID")), "runs[0].run.status"),
    (document(run_entry("a", workflow="")), "runs[0].run.workflow"),
    (document(run_entry("a", workflow="x" * 301)), "runs[0].run.workflow"),
    (document(run_entry("a", workflow="a b\n")), "runs[0].run.workflow"),
    (document(run_entry("a", priority=2**40)), "runs[0].run.priority"),
    (document(run_entry("a", priority="high")), "runs[0].run.priority"),
    (document(run_entry("a", created_at="yesterday")), "runs[0].run.created_at"),
    (document(run_entry("a", created_at="2026-13-45T00:00:00+00:00")), "runs[0].run.created_at"),
    (document(run_entry("a", created_at="2026-01-01T00:00:00")), "runs[0].run.created_at"),
    (document(run_entry("a", created_at="0001-01-01T00:00:00+05:00")), "runs[0].run.created_at"),
    (document(run_entry("a", created_at="9999-12-31T23:59:59-05:00")), "runs[0].run.created_at"),
    (document(run_entry("a", created_at="2026-01-01T00:00:00+25:00")), "runs[0].run.created_at"),
    (document(run_entry("a", error="boom")), "runs[0].run.error"),
    (document(run_entry("a", error={"type": 3})), "runs[0].run.error.type"),
    (document(run_entry("a", tags=[1])), "runs[0].run.tags"),
    (document(run_entry("a", input={"args": ["\u0000"]})), "runs[0].run.input"),
    (document(run_entry("a", output="\ud800")), "runs[0].run.output"),
    (document(run_entry("a", cancel_reason="a\x00b")), "runs[0].run.cancel_reason"),
    (json.dumps(document(run_entry("a", active_ms=7))).replace("7", "1e400"), "active_ms"),
    (document(run_entry("a", steps=[step_record(-1)])), "runs[0].steps[0].position"),
    (document(run_entry("a", steps=[step_record(0, kind="shell")])), "runs[0].steps[0].kind"),
    (document(run_entry("a", steps=[step_record(0), step_record(0)])), "runs[0].steps[1].position"),
    (document(run_entry("a", steps=[{"position": 0}])), "runs[0].steps[0].name"),
    (document(run_entry("a", steps=[step_record(0, finished_at=None)])), "runs[0].steps[0].finished_at"),  # noqa: E501
    (document(run_entry("a", attempts=[{"position": 0}])), "runs[0].attempts[0].attempt"),
    (document(run_entry("a"), run_entry("a")), "runs[1].run.id"),
    ('{"format": "durable.run-export", "format_version": 1, "runs": [], "n": ' + "9" * 5000 + "}",
     "not JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested"),
    ('{"format": NaN}', "not JSON"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "named"), MALFORMED)
def test_a_malformed_file_is_refused_with_one_line_naming_the_field(db, content, named):
    assert named in _refusal(content)
    _nothing_written()


def test_the_cli_exits_non_zero_with_that_one_line(db, tmp_path):
    path = write(tmp_path, document(run_entry("a", priority="high")))
    with pytest.raises(CommandError) as refused:
        call_command("durable", "import", str(path), stdout=io.StringIO())
    assert "runs[0].run.priority" in str(refused.value) and "\n" not in str(refused.value)
    _nothing_written()


def test_an_unreadable_file_and_bytes_that_are_no_utf8_are_refused(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("durable", "import", str(tmp_path / "missing.json"), stdout=io.StringIO())
    assert "UTF-8" in _refusal(b'{"format": "\xff"}')


@override_settings(DURABLE_IMPORT_MAX_BYTES=1000)
def test_a_file_over_the_size_cap_is_refused_before_it_is_parsed(db, tmp_path):
    path = write(tmp_path, "{" * 5000)  # would be "not JSON" if it were parsed
    with pytest.raises(CommandError, match="over the 1,000-byte.*DURABLE_IMPORT_MAX_BYTES"):
        call_command("durable", "import", str(path), stdout=io.StringIO())
    assert "DURABLE_IMPORT_MAX_BYTES" in _refusal("{" * 5000)
    _nothing_written()


def test_the_size_cap_defaults_to_twenty_megabytes():
    from durable.core.conf import settings as durable_settings

    assert durable_settings.DURABLE_IMPORT_MAX_BYTES == 20 * 1024 * 1024


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from([
    "id", "workflow", "status", "input", "output", "error", "tags", "priority", "created_at",
    "parent_id", "queue", "version", "position", "attempt", "name", "kind", "started_at",
    "finished_at", "type", "message", "args", "attrs", "traceback", "cancel_reason",
])  # fmt: skip


def _planted(where: str, field: str, value) -> object:
    """A valid document with `value` put at `field` of one of its parts."""
    error = {**error_record("builtins.ValueError"), field: value}
    attempt = {"position": 0, "attempt": 1, "name": "x", "error": error_record("x.Y"),
               "started_at": AT, "finished_at": AT, field: value}  # fmt: skip
    return {
        "file": lambda: value,
        "run": lambda: document(
            {**run_entry("fuzz-1"), "run": {**run_entry("fuzz-1")["run"], field: value}}
        ),
        "step": lambda: document(run_entry("fuzz-1", steps=[{**step_record(0), field: value}])),
        "attempt": lambda: document(run_entry("fuzz-1", attempts=[attempt])),
        "error": lambda: document(run_entry("fuzz-1", status="ERROR", error=error)),
    }[where]()


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    value=JSON_VALUES,
    field=FIELDS,
    where=st.sampled_from(["file", "run", "step", "attempt", "error"]),
)
def test_any_json_value_anywhere_imports_or_is_refused_and_nothing_else(db, value, field, where):
    try:
        importing.import_text(json.dumps(_planted(where, field, value)), name="fuzz.json")
    except ImportRefused as refused:
        assert "\n" not in str(refused)
        assert not Run.objects.exists() and not Step.objects.exists()
    else:
        assert Run.objects.filter(imported=True).count() == 1
    Run.objects.all().delete()
    AuditEntry.objects.all().delete()


def test_a_well_formed_file_still_imports(db):
    error = error_record("tests.engine.debug_workflows.PaymentDeclined")
    attempt = {"position": 1, "attempt": 1, "name": "x", "error": error,
               "started_at": AT, "finished_at": AT}  # fmt: skip
    entry = run_entry("fine-1", status="ERROR", error=error, steps=[step_record(0)],
                      attempts=[attempt])  # fmt: skip
    mapping = importing.import_text(json.dumps(document(entry)), name="fine.json")
    assert mapping == {"fine-1": "fine-1"}
    run = Run.objects.get(id="fine-1")
    assert run.imported and run.status == "ERROR" and run.steps.count() == 1
    assert run.attempts.count() == 1


@pytest.mark.slow
def test_manage_py_prints_one_line_and_no_traceback(transactional_db, tmp_path):
    from tests.engine.processes import database_url_for_tests
    from tests.engine.second_database import manage

    path = write(tmp_path, document(run_entry("a", steps=[step_record(0, kind="shell")])))
    for args, stdin in (((str(path),), None), (("-",), "[" * 100_000)):
        done = manage(database_url_for_tests(), "durable", "import", *args, stdin=stdin)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "runs[0].steps[0].kind" in manage(database_url_for_tests(), "durable", "import",
                                             str(path)).stderr  # fmt: skip


def test_stdin_is_read_up_to_the_cap_only(db, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(document(run_entry("from-stdin")))))
    call_command("durable", "import", "-", stdout=io.StringIO())
    assert Run.objects.filter(id="from-stdin", imported=True).exists()
    monkeypatch.setattr("sys.stdin", io.StringIO(" " * 2000))
    with (
        override_settings(DURABLE_IMPORT_MAX_BYTES=1000),
        pytest.raises(CommandError, match="- is more than 1,000 bytes"),
    ):
        call_command("durable", "import", "-", stdout=io.StringIO())


def test_a_file_name_with_a_newline_is_shown_on_one_line(db, tmp_path):
    path = write(tmp_path, "{", name="run\nfile.json")
    with pytest.raises(CommandError) as refused:
        call_command("durable", "import", str(path), stdout=io.StringIO())
    assert "run\\nfile.json is not JSON" in str(refused.value)
    assert "\n" not in str(refused.value)
