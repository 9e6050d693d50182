"""The bench's headline states each target's ratio, and, over several repetitions, each
repetition's own: on a machine whose speed moves between repetitions a median alone hides
whether they agreed."""

from __future__ import annotations

from bench.report import headline


def _repetition(floor_ms: float, step_ms: float, run_ms: float, eight_wf_s: float) -> dict:
    return {
        "floor": {
            "single": {"median_ms": floor_ms, "rows_per_s": 1000 / floor_ms},
            "multi": {"median_ms": floor_ms * 4, "rows_per_s": 10_000.0},
        },
        "durable": {
            "step_overhead": {"median_ms": step_ms},
            "run_one_step": {"median_ms": run_ms},
            "throughput_8_callers": {"workflows_per_s": eight_wf_s},
        },
    }


def test_each_repetition_is_measured_against_its_own_floor():
    repetitions = [
        _repetition(0.2, 0.26, 1.2, 800),
        _repetition(0.1, 0.20, 0.6, 750),
        _repetition(0.2, 0.30, 1.0, 700),
    ]
    results = {**_repetition(0.2, 0.26, 1.0, 750), "repetitions": repetitions}
    lines = "\n".join(headline(results))
    assert "1.30x (target <= 1.3x; each repetition: 1.30x, 2.00x, 1.50x)" in lines
    assert "5.0 floor commits (target <= 8; each repetition: 6.0, 6.0, 5.0)" in lines
    assert "60% (target >= 60%; each repetition: 64%, 60%, 56%)" in lines


def test_one_repetition_states_the_ratio_alone():
    results = {
        **_repetition(0.2, 0.26, 1.0, 750),
        "repetitions": [_repetition(0.2, 0.26, 1.0, 750)],
    }
    lines = "\n".join(headline(results))
    assert "1.30x (target <= 1.3x)" in lines and "each repetition" not in lines


def _beside(figures: dict, key: str, before: float, after: float) -> None:
    figures["floor_beside"] = {"before": {key: before}, "after": {key: after}}


def test_a_section_with_its_own_floor_around_it_is_also_measured_against_that_floor():
    """The floor taken just before and after the step and the eight-caller sections: the
    repetition's own floor, tens of seconds earlier, may have moved since."""
    repetitions = [_repetition(0.2, 0.26, 1.2, 800), _repetition(0.2, 0.30, 1.0, 700)]
    _beside(repetitions[0]["durable"]["step_overhead"], "median_ms", 0.19, 0.21)
    _beside(repetitions[1]["durable"]["step_overhead"], "median_ms", 0.25, 0.25)
    _beside(repetitions[0]["durable"]["throughput_8_callers"], "rows_per_s", 9_000, 11_000)
    _beside(repetitions[1]["durable"]["throughput_8_callers"], "rows_per_s", 8_000, 8_000)
    results = {**_repetition(0.2, 0.28, 1.1, 750), "repetitions": repetitions}
    _beside(results["durable"]["step_overhead"], "median_ms", 0.22, 0.23)
    _beside(results["durable"]["throughput_8_callers"], "rows_per_s", 8_500, 9_500)
    lines = "\n".join(headline(results))
    assert "1.40x (target <= 1.3x; each repetition: 1.30x, 1.50x)" in lines
    assert "before and after the step section: 1.25x; each repetition: 1.30x, 1.20x" in lines
    assert "60% (target >= 60%; each repetition: 64%, 56%)" in lines
    assert "before and after the 8-caller section: 67%; each repetition: 64%, 70%" in lines


def test_with_three_repetitions_the_ratio_beside_is_the_median_of_theirs():
    """Not the median step over the median floors, which may come from other repetitions."""
    repetitions = [_repetition(0.2, step, 1.0, 750) for step in (0.30, 0.52, 0.33)]
    for one, (before, after) in zip(
        repetitions, [(0.20, 0.20), (0.40, 0.40), (0.30, 0.30)], strict=True
    ):
        _beside(one["durable"]["step_overhead"], "median_ms", before, after)
    results = {**_repetition(0.2, 0.33, 1.0, 750), "repetitions": repetitions}
    _beside(results["durable"]["step_overhead"], "median_ms", 0.30, 0.30)
    lines = "\n".join(headline(results))
    assert "step section: 1.30x; each repetition: 1.50x, 1.30x, 1.10x" in lines


def test_without_floors_around_the_sections_no_such_line_is_written():
    lines = "\n".join(headline(_repetition(0.2, 0.26, 1.0, 750)))
    assert "just before and after" not in lines
