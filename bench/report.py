"""The results table: every figure with its ratio to the floor and to DBOS."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench.stats import ratio

Row = tuple[str, ...]
HEADER: Row = ("section", "measurement", "median", "p99", "rate", "x floor", "Durable/DBOS")


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.3f} ms"


def _x(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def _fixed(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _rate(value: float | None, unit: str) -> str:
    return "" if value is None else f"{value:,.0f} {unit}"


def floor_rows(floor: dict[str, Any]) -> list[Row]:
    base = floor["single"]["median_ms"]
    labels = {
        "single": "INSERT+COMMIT, 1 conn (psycopg)",
        "multi": f"INSERT+COMMIT, {floor['multi']['connections']} conn (psycopg)",
        "django": "INSERT+COMMIT, 1 conn (Django cursor)",
    }
    return [
        (
            "floor",
            label,
            _ms(floor[key]["median_ms"]),
            _ms(floor[key]["p99_ms"]),
            _rate(floor[key]["rows_per_s"], "rows/s"),
            _x(ratio(floor[key]["median_ms"], base)),
            "",
        )
        for key, label in labels.items()
    ]


def step_rows(durable: dict, dbos: dict | None, floor: dict) -> list[Row]:
    base = floor["single"]["median_ms"]
    ours = durable["step_overhead"]
    theirs = (dbos or {}).get("step_overhead")
    label = f"per no-op step ({ours['steps']}-step workflow)"
    rows = [
        (
            "step",
            f"Durable {label}",
            _ms(ours["median_ms"]),
            _ms(ours["p99_ms"]),
            _rate(1000 / ours["median_ms"], "steps/s"),
            _x(ratio(ours["median_ms"], base)),
            _x(ratio(ours["median_ms"], theirs and theirs["median_ms"])),
        )
    ]
    if theirs:
        rows.append(
            (
                "step",
                f"DBOS {label}",
                _ms(theirs["median_ms"]),
                _ms(theirs["p99_ms"]),
                _rate(1000 / theirs["median_ms"], "steps/s"),
                _x(ratio(theirs["median_ms"], base)),
                "",
            )
        )
    return rows


# insert the run (claimed in its insert when this process executes it), five checkpoints,
# finish it
ROUND_TRIPS = 7

THROUGHPUT = {
    "throughput_sequential": ("5-step workflows, 1 caller", "single"),
    "throughput_8_callers": ("5-step workflows, 8 callers", "multi"),
    "throughput_32_callers": ("5-step workflows, 32 callers", "multi"),
    "throughput_burst": ("5-step workflows, burst start+wait", "multi"),
}


def throughput_rows(durable: dict, dbos: dict | None, floor: dict) -> list[Row]:
    rows: list[Row] = []
    for key, (label, floor_key) in THROUGHPUT.items():
        if key not in durable:
            continue
        ours = durable[key]["workflows_per_s"]
        theirs = (dbos or {}).get(key, {}).get("workflows_per_s")
        floor_rate = floor[floor_key]["rows_per_s"]
        rows.append(
            (
                "throughput",
                f"Durable {label}",
                "",
                "",
                _rate(ours, "wf/s"),
                _x(ratio(ours, floor_rate)),
                _x(ratio(ours, theirs)),
            )
        )
        if theirs is not None:
            rows.append(
                (
                    "throughput",
                    f"DBOS {label}",
                    "",
                    "",
                    _rate(theirs, "wf/s"),
                    _x(ratio(theirs, floor_rate)),
                    "",
                )
            )
    return rows


def celery_rows(celery: dict[str, Any], floor: dict) -> list[Row]:
    """bench/celery_throughput.py's figures: end to end (started one by one, then waited
    for) and drain (enqueued first, then dispatched at once), per number of workers."""
    rows: list[Row] = []
    floor_rate = floor["multi"]["rows_per_s"]
    for workers, result in celery.items():
        data = result.get("data") or {}
        entries = [entry for entry in data.get("celery", []) if isinstance(entry, dict)]
        if not entries:
            rate = _find_number(data, "workflows_per_s")
            rows.append(
                (
                    "celery",
                    f"Durable on Celery, {workers} worker(s)",
                    "",
                    "",
                    _rate(rate, "wf/s") if rate else result.get("status", ""),
                    _x(ratio(rate, floor_rate)),
                    "",
                )
            )
        for entry in entries:
            for mode in ("end_to_end", "drain"):
                rate = (entry.get(mode) or {}).get("workflows_per_s")
                label = f"Durable on Celery, {entry.get('workers')} worker(s), {mode}"
                rows.append(
                    (
                        "celery",
                        label.replace("_", " "),
                        "",
                        "",
                        _rate(rate, "wf/s"),
                        _x(ratio(rate, floor_rate)),
                        "",
                    )
                )
    return rows


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def scale_lines(result: dict[str, Any]) -> list[str]:
    """bench/dashboard_pages.py's figures: server time per page on the seeded history."""
    data = result.get("data") or {}
    pages = data.get("pages")
    if result.get("status") != "ok" or not isinstance(pages, list):
        return external_lines("scale (dashboard pages)", result)
    rows = [
        (
            "scale",
            str(page.get("page", "")),
            _ms(page.get("p50_ms")),
            _ms(page.get("p95_ms")),
            _x(page.get("p95_over_budget")),
            _ms(page.get("budget_ms")),
        )
        for page in pages
    ]
    header: Row = ("section", "dashboard page", "p50", "p95", "p95/budget", "budget")
    title = (
        f"scale: dashboard pages on {_count(data.get('runs'))} runs / "
        f"{_count(data.get('checkpoints'))} checkpoints (server time)"
    )
    return ["", title, format_table(rows, header)]


REPLICA_READERS = {"idle": "no dashboard", "primary": "reads primary", "replica": "reads replica"}


def replica_table(data: dict[str, Any]) -> list[str]:
    """bench/replica_load.py's figures: the per-step cost on the primary, idle and while the
    heaviest page loops with the dashboard on the primary or on the replica (medians)."""
    rows = []
    for name, figures in data["conditions"].items():
        low, high = figures["load_range"]
        rows.append(
            (
                name,
                REPLICA_READERS.get(name, ""),
                _ms(figures["floor_ms"]),
                _ms(figures["step_ms"]),
                _x(figures["step_over_idle_floor"]),
                _x(figures["step_over_idle_step"]),
                _ms(figures["page_median_ms"]),
                "" if figures["pages_per_s"] is None else f"{figures['pages_per_s']:.1f}",
                f"{figures['load_1min']:.1f} ({low:.1f}-{high:.1f})",
            )
        )
    header: Row = ("condition", "dashboard", "floor", "per step", "step/floor", "step/idle",
                   "page", "pages/s", "load 1 min")  # fmt: skip
    title = (
        f"replica: checkpoint cost while '{data['page']['label']}' loops; "
        f"{_count(data.get('runs'))} runs / {_count(data.get('checkpoints'))} checkpoints, "
        f"medians of {data['repeat']} repetition(s) (floor and step/floor: on the same primary, "
        "step/floor over the idle floor)"
    )
    return [title, format_table(rows, header)]


def replica_lines(result: dict[str, Any]) -> list[str]:
    if result.get("status") != "ok" or "conditions" not in (result.get("data") or {}):
        return external_lines("replica (checkpoint cost, dashboard on a replica)", result)
    return ["", *replica_table(result["data"])]


PHASE_LABELS = {
    "start_call": "phase: start() call",
    "start_to_claim": "phase: start() returned -> claim",
    "claim_to_step": "phase: claim -> step start",
    "step": "phase: the step",
    "step_to_finish": "phase: step end -> finish begins",
    "finish_to_result": "phase: finish begins -> result() returns",
}


def run_rows(durable: dict, dbos: dict | None, floor: dict) -> list[Row]:
    """`durable.run()` of a one-step workflow: ms per run (x floor = floor commits); then
    `start()` and `result()` apart, with the phases of such a run (bench/run_phases.py),
    beside DBOS's `start_workflow().get_result()`."""
    ours = durable.get("run_one_step")
    if not ours:
        return []
    base = floor["single"]["median_ms"]
    theirs = (dbos or {}).get("run_one_step")
    rows = [_run_row("Durable run() of a one-step workflow", ours, base, None)]
    apart = durable.get("start_result_one_step", {})
    if apart.get("n"):
        rows.append(_run_row("Durable start() then result(), one step", apart, base, theirs))
    for key, label in PHASE_LABELS.items():
        phase = apart.get("phases", {}).get(key)
        if phase and phase.get("n"):
            rows.append(_run_row(f"  {label}", phase, base, None))
    if theirs:
        rows.append(_run_row("DBOS start_workflow().get_result(), one step", theirs, base, None))
    labels = {"one_step": "one-step run()", "five_steps": "5-step workflow, run()"}
    for key, counted in durable.get("transactions", {}).items():
        rows.append(("run", f"database transactions per {labels.get(key, key)}", "", "",
                     f"{counted['per_run']:.1f} xacts", "", ""))  # fmt: skip
    return rows


def _run_row(label: str, figures: dict, base: float, theirs: dict | None) -> Row:
    return (
        "run",
        label,
        _ms(figures["median_ms"]),
        _ms(figures["p99_ms"]),
        "",
        _x(ratio(figures["median_ms"], base)),
        _x(ratio(figures["median_ms"], theirs and theirs["median_ms"])),
    )


def latency_rows(durable: dict, dbos: dict | None) -> list[Row]:
    ours = durable["start_latency"]
    theirs = (dbos or {}).get("start_latency")
    rows = [
        (
            "start",
            "Durable start() -> first step",
            _ms(ours["median_ms"]),
            _ms(ours["p99_ms"]),
            "",
            "",
            _x(ratio(ours["median_ms"], theirs and theirs["median_ms"])),
        )
    ]
    if theirs:
        rows.append(
            (
                "start",
                "DBOS start_workflow() -> first step",
                _ms(theirs["median_ms"]),
                _ms(theirs["p99_ms"]),
                "",
                "",
                "",
            )
        )
    return rows


def _find_number(data: Any, key: str) -> float | None:
    """The first numeric `key` anywhere in a nested result from an optional script."""
    if isinstance(data, dict):
        if isinstance(data.get(key), int | float):
            return float(data[key])
        values = data.values()
    elif isinstance(data, list):
        values = data
    else:
        return None
    for value in values:
        found = _find_number(value, key)
        if found is not None:
            return found
    return None


def format_table(rows: list[Row], header: Row = HEADER) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    previous = None
    for row in [header, *rows]:
        if previous is not None and row[0] != previous:
            lines.append("-+-".join("-" * width for width in widths))
        previous = row[0]
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def _targets(results: dict[str, Any]) -> dict[str, float | None]:
    """The three ratios issue 23 sets targets for, from one set of results: the step and
    `run()` against the 1-connection floor, eight callers against the 8-connection floor."""
    floor = results["floor"]["single"]["median_ms"]
    ours = results["durable"]
    targets = {"step": ratio(ours["step_overhead"]["median_ms"], floor)}
    run = ours.get("run_one_step")
    if run:
        targets["run"] = ratio(run["median_ms"], floor)
    beside = _beside(ours["step_overhead"], "median_ms")
    if beside:
        targets["step_beside"] = ratio(ours["step_overhead"]["median_ms"], beside)
    eight = ours.get("throughput_8_callers")
    if eight:
        multi = results["floor"]["multi"]["rows_per_s"]
        targets["eight"] = ratio(8 * eight["workflows_per_s"], multi)
        beside = _beside(eight, "rows_per_s")
        if beside:
            targets["eight_beside"] = ratio(8 * eight["workflows_per_s"], beside)
    return targets


def _beside(figures: dict[str, Any], key: str) -> float | None:
    """The mean of the floors measured just before and after a section (durable_side's
    `floor_beside`), if it has them."""
    beside = figures.get("floor_beside")
    if not beside:
        return None
    return (beside["before"][key] + beside["after"][key]) / 2


def _median_over(
    repetitions: list[dict[str, float | None]], key: str, alone: float | None
) -> float | None:
    """The median of each repetition's ratio to the floor beside its section: a ratio of
    medians would set one repetition's section against another's floor."""
    values = [one[key] for one in repetitions if one.get(key) is not None]
    return statistics.median(values) if values else alone


def _each(
    repetitions: list[dict[str, float | None]], key: str, show: Callable[[float | None], str]
) -> str:
    """Each repetition's ratio against its own floor, when there are several: a machine
    whose speed moves between them can put a median on the line that none of them is on."""
    if len(repetitions) < 2 or any(key not in one for one in repetitions):
        return ""
    return "; each repetition: " + ", ".join(show(one[key]) for one in repetitions)


def headline(results: dict[str, Any]) -> list[str]:
    """The ratios the issue sets targets for, stated as ratios next to the target."""
    ours = results["durable"]
    dbos = results.get("dbos") or {}
    targets = _targets(results)
    repetitions = [
        _targets(one)
        for one in results.get("repetitions", [])
        if one.get("floor") and one.get("durable")
    ]
    lines = [
        f"step median / 1-conn floor median: {_x(targets['step'])} "
        f"(target <= 1.3x{_each(repetitions, 'step', _x)})"
    ]
    if "step_beside" in targets:
        beside = _median_over(repetitions, "step_beside", targets["step_beside"])
        lines.append(
            f"  against the floor just before and after the step section: "
            f"{_x(beside)}{_each(repetitions, 'step_beside', _x)}"
        )
    if "run" in targets:
        each = _each(repetitions, "run", lambda value: _fixed(value, ".1f"))
        lines.append(
            "run() of a one-step workflow, p50: "
            f"{_fixed(targets['run'], '.1f')} floor commits (target <= 8{each})"
        )
    if "eight" in targets:
        each = _each(repetitions, "eight", lambda value: _fixed(value, ".0%"))
        lines.append(
            "5-step workflows/s from 8 callers x 8 / 8-conn floor rows/s: "
            f"{_fixed(targets['eight'], '.0%')} (target >= 60%{each})"
        )
    if "eight_beside" in targets:
        beside = _median_over(repetitions, "eight_beside", targets["eight_beside"])
        each = _each(repetitions, "eight_beside", lambda value: _fixed(value, ".0%"))
        lines.append(
            "  against the 8-conn floor just before and after the 8-caller section: "
            f"{_fixed(beside, '.0%')}{each}"
        )
    for key, (label, floor_key) in THROUGHPUT.items():
        if key not in ours:
            continue
        commits = ratio(results["floor"][floor_key]["rows_per_s"], ours[key]["workflows_per_s"])
        lines.append(
            f"{label}: one workflow costs {commits:.1f} floor commits "
            f"(at least {ROUND_TRIPS} round trips)"
        )
    if dbos:
        lines.append(
            "DBOS step median / Durable step median: "
            + _x(ratio(dbos["step_overhead"]["median_ms"], ours["step_overhead"]["median_ms"]))
            + " (target >= 5x)"
        )
        for key, (label, _) in THROUGHPUT.items():
            if key not in ours or key not in dbos:
                continue
            lines.append(
                f"Durable / DBOS workflows/s, {label}: "
                + _x(ratio(ours[key]["workflows_per_s"], dbos[key]["workflows_per_s"]))
                + " (target >= 3x)"
            )
    return lines


def external_lines(name: str, result: dict[str, Any]) -> list[str]:
    if result.get("status") != "ok":
        return [f"{name}: {result.get('status')}: {result.get('message', '')}".rstrip()]
    if "data" in result:
        return [f"{name}: " + ", ".join(f"{k}={v}" for k, v in _leaves(result["data"]))[:2000]]
    return [f"{name}:", *("  " + line for line in result.get("stdout_tail", []))]


def _leaves(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [leaf for key, value in data.items() for leaf in _leaves(value, f"{prefix}{key}.")]
    if isinstance(data, float):
        return [(prefix.rstrip("."), round(data, 3))]
    return [(prefix.rstrip("."), data)]
