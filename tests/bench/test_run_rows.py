"""The bench's run section: `durable.run()` is the figure issue 23's target names, and
`start()` then `result()` is shown apart, with the phases that add up to it and beside
DBOS's `start_workflow().get_result()`."""

from __future__ import annotations

from bench.report import run_rows

FLOOR = {"single": {"median_ms": 0.5}}


def _figures(median_ms: float, **more: object) -> dict:
    return {"n": 10, "median_ms": median_ms, "p99_ms": median_ms * 2, **more}


def test_run_is_measured_by_durable_run_and_start_then_result_carries_the_phases():
    durable = {
        "run_one_step": _figures(2.0),
        "start_result_one_step": _figures(3.0, phases={"start_call": _figures(1.0)}),
    }
    rows = run_rows(durable, {"run_one_step": _figures(6.0)}, FLOOR)
    by_label = {row[1]: row for row in rows}
    run = by_label["Durable run() of a one-step workflow"]
    assert (run[2], run[5], run[6]) == ("2.000 ms", "4.00x", "")
    apart = by_label["Durable start() then result(), one step"]
    assert (apart[2], apart[5], apart[6]) == ("3.000 ms", "6.00x", "0.50x")
    assert by_label["  phase: start() call"][2] == "1.000 ms"
    assert [row[1] for row in rows].index("  phase: start() call") > [row[1] for row in rows].index(
        "Durable start() then result(), one step"
    )
