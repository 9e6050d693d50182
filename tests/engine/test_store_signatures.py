"""The store's writes take named parameters, each declared: a misspelt one is a TypeError at
the call, naming it, before any SQL is sent, never a silent NULL (psycopg ignores a dict's
extra keys, and a default filled in for the misspelt one would be written instead)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from durable.core import store

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CALLS = {
    "record_step": dict(run_id="r", executor_id="e", position=0, name="s", kind="step",
                        status="SUCCESS", input="{}", attempts=1, started_at=NOW,
                        finished_at=NOW, duration_ms=1.0),
    "record_attempt": dict(run_id="r", executor_id="e", position=0, attempt=1, name="s",
                           error="{}", error_type="E", started_at=NOW, finished_at=NOW),
    "finish_run": dict(run_id="r", executor_id="e", status="SUCCESS"),
    "heartbeat": dict(executor_id="e", kind="thread", hostname="h", pid=1, workflows=[]),
}  # fmt: skip
MISSPELT = {"record_step": "outpt", "record_attempt": "finl", "finish_run": "outpt",
            "heartbeat": "workflow"}  # fmt: skip


@pytest.mark.parametrize("function", sorted(CALLS))
def test_a_misspelt_parameter_is_refused_before_any_sql(function, monkeypatch):
    def no_sql(*args, **kwargs):
        raise AssertionError("SQL was sent")

    for name in ("execute", "_execute_prepared"):
        for module in (store._steps, store._runs, store._leases):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, no_sql)
    with pytest.raises(TypeError, match=MISSPELT[function]):
        getattr(store, function)(**CALLS[function], **{MISSPELT[function]: "x"})
