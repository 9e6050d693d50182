"""OpenTelemetry: each run a trace, each step attempt a span; later runs link back."""

from __future__ import annotations

import pytest

import durable
from durable import operations
from durable.observability.tracing import trace_id_for, trace_url
from tests.engine.workflows import sum_three
from tests.monitoring.workflows import FAILURES, checkout


def by_name(spans, prefix: str) -> list:
    finished = spans.get_finished_spans()
    return [span for span in finished if span.name.startswith(prefix)]


def test_each_run_is_a_trace_and_each_step_attempt_a_span(transactional_db, spans):
    FAILURES["tr-1"] = 1
    assert durable.run(checkout, "tr-1", 3, run_id="tr-1") == 3
    (run,) = by_name(spans, "run ")
    attempts = by_name(spans, "step ")
    assert run.context.trace_id == trace_id_for("tr-1")
    assert [a.context.trace_id for a in attempts] == [trace_id_for("tr-1")] * 2
    assert [a.parent.span_id for a in attempts] == [run.context.span_id] * 2
    assert [a.attributes["durable.attempt"] for a in attempts] == [1, 2]
    first = attempts[0].attributes
    assert first["durable.run_id"] == "tr-1"
    assert first["durable.workflow"] == "tests.monitoring.checkout"
    assert first["durable.step"] == "tests.monitoring.workflows.charge"
    assert first["durable.version"] == run.attributes["durable.version"] != ""
    assert first["durable.executor_id"] == run.attributes["durable.executor_id"] != ""
    assert first["durable.cpu_seconds"] >= 0
    assert not attempts[0].status.is_ok
    assert attempts[1].status.is_unset


def test_a_resumed_run_continues_in_the_same_trace(transactional_db, spans):
    FAILURES["tr-2"] = 2
    handle = durable.start(checkout, "tr-2", 4, run_id="tr-2")
    with pytest.raises(ConnectionError):
        handle.result(timeout=10)
    operations.resume("tr-2")
    assert handle.result(timeout=10) == 4
    runs = by_name(spans, "run ")
    assert [r.context.trace_id for r in runs] == [trace_id_for("tr-2")] * 2
    assert len(by_name(spans, "step ")) == 3


def test_a_forked_run_links_to_its_origin_trace(transactional_db, spans):
    durable.run(checkout, "tr-3", 5, run_id="tr-3")
    new_id = operations.fork("tr-3", from_step=0)
    assert durable.get(new_id).result(timeout=10) == 5
    fork_run = next(r for r in by_name(spans, "run ") if r.attributes["durable.run_id"] == new_id)
    assert fork_run.context.trace_id == trace_id_for(new_id) != trace_id_for("tr-3")
    assert [link.context.trace_id for link in fork_run.links] == [trace_id_for("tr-3")]


def test_trace_url_follows_the_template(settings):
    settings.DURABLE_TRACE_URL_TEMPLATE = "https://tempo.example/trace/{trace_id}"
    assert trace_url("tr-4") == f"https://tempo.example/trace/{trace_id_for('tr-4'):032x}"
    settings.DURABLE_TRACE_URL_TEMPLATE = ""
    assert trace_url("tr-4") == ""


def test_an_execution_asks_whether_spans_record_once_not_per_step(transactional_db, monkeypatch):
    """Without a provider the question costs an environment read per call (the API's
    lookup); a run's steps take its execution's answer (a provider is set once per process,
    so one set mid-run is taken up by the run's next execution)."""
    from durable.observability import tracing

    asked = []
    real = tracing.active
    monkeypatch.setattr(tracing, "active", lambda: asked.append(1) or real())
    assert durable.run(sum_three, 1, 2, 3, run_id="tr-once") == 6  # two steps
    assert len(asked) == 1
