"""Figures, pure functions from rows to HTML: plotly for charts, inline SVG for sparklines.

Labels are HTML-escaped before they reach plotly, which renders a subset of HTML in text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from django.utils import timezone

COLOURS = {
    "success": "#16a34a",
    "error": "#dc2626",
    "retry": "#f59e0b",
    "waiting": "#94a3b8",
    "queued": "#cbd5e1",
    "running": "#2563eb",
    "inherited": "#d1d5db",
}
LABELS = {
    "success": "succeeded",
    "error": "failed",
    "retry": "failed attempt (retried)",
    "waiting": "sleep / wait",
    "queued": "queued",
    "running": "running",
    "inherited": "inherited from the origin (not executed here)",
}
WAIT_KINDS = {"sleep", "recv", "get_event"}
# an idle stretch longer than this, and than this share of the run, is collapsed
GAP_SECONDS = 30
GAP_SHARE = 0.2


@dataclass(frozen=True)
class Bar:
    """One span on the timeline: a row label, an outcome and its start/end."""

    row: str
    outcome: str
    start: datetime
    end: datetime
    hover: str
    order: int = -1  # the row's position in the history (-1: queue wait, above step 0)


@dataclass(frozen=True)
class Marker:
    """A moment on the timeline: who resumed or cancelled the run, or what the engine did."""

    at: datetime
    text: str


def timeline_bars(run: Any, steps: Sequence[Any], attempts: Sequence[Any]) -> list[Bar]:
    """Bars for the queue wait, every failed attempt, every checkpoint and the step in flight;
    checkpoints a fork inherited are drawn apart, at the fork's creation, not the origin's."""
    bars: list[Bar] = []
    if run.started_at:
        bars.append(Bar("queued", "queued", run.created_at, run.started_at, "waiting in queue"))
    final = {(step.position, step.attempts) for step in steps if step.status == "ERROR"}
    # a failed step's own bar shows its final attempt
    bars += [_attempt_bar(a) for a in attempts if (a.position, a.attempt) not in final]
    bars += [_step_bar(run, step) for step in steps]
    if run.status == "RUNNING":
        marks = [run.updated_at, *(step.finished_at for step in steps)]
        start = max(mark for mark in marks if mark is not None)
        end = max(timezone.now(), start)
        row = f"#{len(steps)} (in progress)"
        bars.append(Bar(row, "running", start, end, "executing now", len(steps)))
    return bars


def _attempt_bar(attempt: Any) -> Bar:
    message = escape(str((attempt.error or {}).get("message", ""))[:200])
    hover = f"attempt {attempt.attempt}: {escape(attempt.error_type)}<br>{message}"
    row = _row(attempt.position, attempt.name)
    return Bar(row, "retry", attempt.started_at, attempt.finished_at, hover, attempt.position)


def _step_bar(run: Any, step: Any) -> Bar:
    row = _row(step.position, step.name)
    if step.position < (run.forked_from_step or 0):
        hover = f"inherited from {escape(run.forked_from_id or '')}: not executed by this run"
        start = run.created_at
        if getattr(step, "patched", False):
            hover += "<br>its output was edited by an operator when the run was forked"
            return Bar(f"{row} (patched)", "inherited", start, start, hover, step.position)
        return Bar(f"{row} (inherited)", "inherited", start, start, hover, step.position)
    hover = f"{human_ms(step.duration_ms)}, attempt {step.attempts}"
    return Bar(row, _outcome(step), step.started_at, step.finished_at, hover, step.position)


def timeline_markers(run: Any, audit: Sequence[Any]) -> list[Marker]:
    """What happened to the run between its bars: resumes and cancels (from the audit log),
    recoveries after an executor died, a cancel that no operator made."""
    markers = []
    stopped = "failed"  # what a resume continues from: the latest cancel before it, or a failure
    for entry in sorted(audit, key=lambda entry: entry.created_at):
        reason = (entry.detail or {}).get("reason") or ""
        if entry.action == "resume" and run.id in (entry.detail or {}).get("done", {}):
            text = f"{stopped} → resumed by {entry.actor}" + (f": {reason}" if reason else "")
            markers.append(Marker(entry.created_at, text))
            stopped = "failed"
        elif entry.action == "cancel" and run.id in (entry.detail or {}).get("done", {}):
            text = f"cancelled by {entry.actor}" + (f": {reason}" if reason else "")
            markers.append(Marker(entry.created_at, text))
            stopped = "cancelled"
    cancelled_by_operator = any(m.text.startswith("cancelled by") for m in markers)
    if run.status == "CANCELLED" and run.finished_at and not cancelled_by_operator:
        markers.append(Marker(run.finished_at, f"cancelled: {run.cancel_reason or 'no reason'}"))
    if run.recovery_count and run.started_at:
        died = "executor died → DEAD" if run.status == "DEAD" else "executor died → recovered"
        at = run.finished_at if run.status == "DEAD" else run.updated_at
        markers.append(Marker(at or run.started_at, f"{died} ({run.recovery_count}×)"))
    return sorted(markers, key=lambda marker: marker.at)


def _row(position: int, name: str) -> str:
    return f"#{position} {escape(name.rsplit('.', 1)[-1])}"


def _outcome(step: Any) -> str:
    if step.kind in WAIT_KINDS:
        return "waiting"
    return "success" if step.status == "SUCCESS" else "error"


def idle_gaps(bars: Sequence[Bar]) -> list[tuple[datetime, datetime]]:
    """Stretches where nothing ran, long enough that drawing them would squash the steps."""
    spans = sorted((bar.start, bar.end) for bar in bars if bar.outcome != "inherited")
    if not spans:
        return []
    total = (max(end for _, end in spans) - spans[0][0]).total_seconds()
    gaps, reach = [], spans[0][1]
    for start, end in spans[1:]:
        idle = (start - reach).total_seconds()
        if idle > GAP_SECONDS and idle > GAP_SHARE * total:
            gaps.append((reach, start))
        reach = max(reach, end)
    return gaps


def _moved(at: datetime, by: timedelta) -> datetime:
    """`at + by`, held inside the calendar: an imported run may hold times of year 1 or
    9999 (the file is the attacker's), and the page must still draw."""
    try:
        return at + by
    except OverflowError:
        return at


def gantt(bars: Sequence[Bar], markers: Sequence[Marker] = ()) -> str:
    """A horizontal timeline, rows in history order, one trace per outcome so the legend
    explains the colours; long idle gaps are cut out and labelled, markers say who acted."""
    if not bars:
        return ""
    gaps = idle_gaps(bars)
    first = min([bar.start for bar in bars] + [marker.at for marker in markers])
    last = max([bar.end for bar in bars] + [marker.at for marker in markers])
    span_ms = max(_visible_ms(last, first, gaps), 1.0)
    figure = go.Figure()
    for outcome in COLOURS:
        mine = [bar for bar in bars if bar.outcome == outcome]
        if mine:
            figure.add_trace(_trace(outcome, mine, span_ms))
    rows = list(dict.fromkeys(bar.row for bar in sorted(bars, key=lambda bar: bar.order)))
    pad = timedelta(milliseconds=span_ms * 0.02)
    end = max(last, first + timedelta(milliseconds=span_ms * 0.03))  # an inherited sliver
    figure.update_layout(
        barmode="overlay",
        height=max(180, 34 * len(rows) + 90),
        # an explicit range: annotations must not widen the axis to fit their text
        xaxis={
            "type": "date",
            "title": None,
            "rangebreaks": _breaks(gaps, span_ms),
            "range": [_iso(_moved(first, -pad)), _iso(_moved(end, pad))],
        },
        yaxis={"categoryorder": "array", "categoryarray": rows[::-1], "automargin": True},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        **_plain_layout(),
    )
    _label_gaps(figure, gaps)
    _draw_markers(figure, markers, first, gaps, span_ms)
    return _html(figure)


def _trace(outcome: str, bars: Sequence[Bar], span_ms: float) -> go.Bar:
    hatched = {"pattern": {"shape": "/"}} if outcome == "inherited" else {}
    return go.Bar(
        name=LABELS[outcome],
        orientation="h",
        marker={"color": COLOURS[outcome], **hatched},
        y=[bar.row for bar in bars],
        base=[_iso(bar.start) for bar in bars],
        x=[_width(bar, span_ms) for bar in bars],
        hovertext=[bar.hover for bar in bars],
        hoverinfo="text+y",
    )


def _visible_ms(
    moment: datetime, first: datetime, gaps: Sequence[tuple[datetime, datetime]]
) -> float:
    """Milliseconds from `first` to `moment` as drawn, without the collapsed gaps."""
    hidden = sum(
        (min(end, moment) - start).total_seconds() for start, end in gaps if start < moment
    )
    return ((moment - first).total_seconds() - hidden) * 1000


def _label_gaps(figure: go.Figure, gaps: Sequence[tuple[datetime, datetime]]) -> None:
    for start, end in gaps:
        figure.add_annotation(
            x=_iso(start),
            y=1,
            yref="paper",
            text=f"⋯ idle {human_ms((end - start).total_seconds() * 1000)} ⋯",
            showarrow=False,
            font={"size": 11, "color": "#6b7280"},
            xanchor="left",
        )


def _draw_markers(
    figure: go.Figure,
    markers: Sequence[Marker],
    first: datetime,
    gaps: Sequence[tuple[datetime, datetime]],
    span_ms: float,
) -> None:
    """A dotted line per marker, its text on the side where the chart has room."""
    for marker in markers:
        late = _visible_ms(marker.at, first, gaps) > 0.5 * span_ms
        figure.add_vline(x=_iso(marker.at), line={"color": "#6b7280", "dash": "dot"})
        figure.add_annotation(
            x=_iso(marker.at),
            y=0,
            yref="paper",
            text=escape(marker.text),
            showarrow=False,
            xanchor="right" if late else "left",
            yanchor="bottom",
            font={"size": 11},
            bgcolor="rgba(255,255,255,0.85)",
        )


def _iso(moment: datetime) -> str:
    """UTC without an offset: plotly.js reads dates as wall times and ignores offsets, so
    every date on one axis (bars, cuts, markers) must be written the same way."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def _width(bar: Bar, span_ms: float) -> float:
    if bar.outcome == "inherited":
        return max(span_ms * 0.03, 1)
    return max((bar.end - bar.start).total_seconds() * 1000, 1)


def _breaks(gaps: Sequence[tuple[datetime, datetime]], span_ms: float) -> list[dict[str, Any]]:
    """Plotly rangebreaks hiding each gap but a sliver at both ends (small beside what is
    drawn, `span_ms`), so it reads as a cut."""
    breaks = []
    for start, end in gaps:
        keep = min((end - start) * 0.02, timedelta(milliseconds=span_ms * 0.02))
        breaks.append(
            {
                "values": [_iso(start + keep)],
                "dvalue": (end - start - 2 * keep).total_seconds() * 1000,
            }
        )
    return breaks


SECOND, MINUTE, HOUR = 1_000, 60_000, 3_600_000
# log-axis ticks in human units: durations span ms to hours, and one outlier must not
# flatten the rest of the chart
TICKS = [
    *((ms, f"{ms} ms") for ms in (1, 2, 5, 10, 20, 50, 100, 200, 500)),
    *((n * SECOND, f"{n} s") for n in (1, 2, 5, 10, 20, 30)),
    *((n * MINUTE, f"{n} min") for n in (1, 2, 5, 10, 20, 30)),
    *((n * HOUR, f"{n} h") for n in (1, 2, 5, 10, 24)),
]


def human_ms(value: float | None) -> str:
    """85 ms, 1.4 s, 3.2 min, 2.1 h: the unit a person reads a duration in."""
    if value is None:
        return "–"
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    if value < 3_600_000:
        return f"{value / 60_000:.1f} min"
    return f"{value / 3_600_000:.1f} h"


def latency_over_time(rows: Sequence[dict[str, Any]], title: str, height: int = 300) -> str:
    """p50/p95/p99 lines per time bucket on a log axis labelled in s/min; rows carry
    bucket, runs, p50, p95, p99 in ms. Built as a plain dict (no figure validation): the
    latency page draws several of these."""
    if not rows:
        return ""
    traces = [
        {
            "type": "scatter",
            "name": key,
            "mode": "lines+markers",
            "x": [_iso(row["bucket"]) for row in rows],
            "y": [row[key] for row in rows],
            "line": {"dash": dash, "color": colour},
            "marker": {"size": 5, "color": colour},
            "text": [f"{key} {human_ms(row[key])} ({row['runs']})" for row in rows],
            "hoverinfo": "text+x",
        }
        for key, dash, colour in (
            ("p50", "solid", "#2563eb"),
            ("p95", "dash", "#f59e0b"),
            ("p99", "dot", "#dc2626"),
        )
    ]
    values = [row[key] for row in rows for key in ("p50", "p95", "p99") if row[key]]
    low, high = min(values, default=1), max(values, default=1)
    ticks = [(v, label) for v, label in TICKS if low / 2 <= v <= high * 2] or TICKS[:4]
    layout = {
        "height": height,
        "showlegend": height >= 300,  # small multiples share the big chart's legend
        "title": {"text": escape(title), "font": {"size": 14}},
        "xaxis": {"type": "date", "automargin": True, "gridcolor": "#f1f5f9"},
        "yaxis": {
            "type": "log",
            "automargin": True,
            "gridcolor": "#e5e7eb",
            "tickvals": [v for v, _ in ticks],
            "ticktext": [label for _, label in ticks],
        },
        **_plain_layout(),
    }
    return _html({"data": traces, "layout": layout})


def _plain_layout() -> dict[str, Any]:
    return {
        "margin": {"l": 10, "r": 10, "t": 36, "b": 10},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, sans-serif", "size": 12},
    }


# `<`, `>` and `&` escaped inside the data block, so no text in a figure can close it
_JSON_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def _html(figure: go.Figure | dict[str, Any]) -> str:
    """A placeholder and the figure as a JSON data block; app.js draws it with plotly.js.

    Data, not an inline script, so the Content-Security-Policy can forbid inline scripts.
    Plain dicts are encoded as they are (no figure validation: fast); plotly's encoder
    handles dates and numpy arrays.
    """
    spec = dict(figure) if isinstance(figure, dict) else figure.to_plotly_json()
    spec["config"] = {"displaylogo": False, "responsive": True}
    data = pio.to_json(spec, validate=False, pretty=False).translate(_JSON_ESCAPES)
    return (
        '<div class="plotly-figure">'
        f'<script type="application/json" class="plotly-figure-data">{data}</script></div>'
    )


def sparkline(counts: Sequence[int], width: int = 120, height: int = 28) -> str:
    """SVG polyline points for a trend, scaled to the box (numbers only, safe to inline)."""
    if not counts:
        return ""
    top = max(counts) or 1
    step = width / max(len(counts) - 1, 1)
    return " ".join(
        f"{index * step:.1f},{height - 2 - (count / top) * (height - 4):.1f}"
        for index, count in enumerate(counts)
    )
