"""Figures, pure functions from rows to HTML: plotly for charts, inline SVG for sparklines.

Labels are HTML-escaped before they reach plotly, which renders a subset of HTML in text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

import plotly.graph_objects as go
from django.utils import timezone

COLOURS = {
    "success": "#16a34a",
    "error": "#dc2626",
    "retry": "#f59e0b",
    "waiting": "#94a3b8",
    "queued": "#cbd5e1",
    "running": "#2563eb",
}
LABELS = {
    "success": "succeeded",
    "error": "failed",
    "retry": "failed attempt (retried)",
    "waiting": "sleep / wait",
    "queued": "queued",
    "running": "running",
}
WAIT_KINDS = {"sleep", "recv", "get_event"}


@dataclass(frozen=True)
class Bar:
    """One span on the timeline: a row label, an outcome and its start/end."""

    row: str
    outcome: str
    start: datetime
    end: datetime
    hover: str


def timeline_bars(run: Any, steps: Sequence[Any], attempts: Sequence[Any]) -> list[Bar]:
    """Bars for the queue wait, every failed attempt, every checkpoint and the step in flight."""
    bars: list[Bar] = []
    if run.started_at:
        bars.append(Bar("queued", "queued", run.created_at, run.started_at, "waiting in queue"))
    final = {(step.position, step.attempts) for step in steps if step.status == "ERROR"}
    for attempt in attempts:
        if (attempt.position, attempt.attempt) in final:
            continue  # the step's own bar shows its final, failed attempt
        row = _row(attempt.position, attempt.name)
        message = escape(str((attempt.error or {}).get("message", ""))[:200])
        hover = f"attempt {attempt.attempt}: {escape(attempt.error_type)}<br>{message}"
        bars.append(Bar(row, "retry", attempt.started_at, attempt.finished_at, hover))
    for step in steps:
        bars.append(
            Bar(
                _row(step.position, step.name),
                _outcome(step),
                step.started_at,
                step.finished_at,
                f"{step.duration_ms:,.0f} ms, attempt {step.attempts}",
            )
        )
    if run.status == "RUNNING":
        start = steps[-1].finished_at if steps else (run.started_at or run.created_at)
        position = len(steps)
        bars.append(
            Bar(f"#{position} (in progress)", "running", start, timezone.now(), "executing now")
        )
    return bars


def _row(position: int, name: str) -> str:
    return f"#{position} {escape(name.rsplit('.', 1)[-1])}"


def _outcome(step: Any) -> str:
    if step.kind in WAIT_KINDS:
        return "waiting"
    return "success" if step.status == "SUCCESS" else "error"


def gantt(bars: Sequence[Bar]) -> str:
    """A horizontal timeline, one trace per outcome so the legend explains the colours."""
    if not bars:
        return ""
    figure = go.Figure()
    for outcome in COLOURS:
        mine = [bar for bar in bars if bar.outcome == outcome]
        if not mine:
            continue
        figure.add_trace(
            go.Bar(
                name=LABELS[outcome],
                orientation="h",
                marker_color=COLOURS[outcome],
                y=[bar.row for bar in mine],
                base=[bar.start.isoformat() for bar in mine],
                x=[max((bar.end - bar.start).total_seconds() * 1000, 1) for bar in mine],
                hovertext=[bar.hover for bar in mine],
                hoverinfo="text+y",
            )
        )
    rows = list(dict.fromkeys(bar.row for bar in bars))
    figure.update_layout(
        barmode="overlay",
        height=max(180, 34 * len(rows) + 90),
        xaxis={"type": "date", "title": None},
        yaxis={"categoryorder": "array", "categoryarray": rows[::-1], "automargin": True},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        **_plain_layout(),
    )
    return _html(figure)


def latency_over_time(rows: Sequence[dict[str, Any]], title: str) -> str:
    """p50/p95/p99 lines per time bucket; rows carry bucket, p50, p95, p99 in ms."""
    if not rows:
        return ""
    figure = go.Figure()
    for key, dash in (("p50", "solid"), ("p95", "dash"), ("p99", "dot")):
        figure.add_trace(
            go.Scatter(
                name=key,
                mode="lines+markers",
                x=[row["bucket"] for row in rows],
                y=[row[key] for row in rows],
                line={"dash": dash},
            )
        )
    figure.update_layout(
        height=300,
        title={"text": escape(title), "font": {"size": 14}},
        yaxis={"title": "ms", "rangemode": "tozero"},
        **_plain_layout(),
    )
    return _html(figure)


def _plain_layout() -> dict[str, Any]:
    return {
        "margin": {"l": 10, "r": 10, "t": 36, "b": 10},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, sans-serif", "size": 12},
    }


# `<`, `>` and `&` escaped inside the data block, so no text in a figure can close it
_JSON_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def _html(figure: go.Figure) -> str:
    """A placeholder and the figure as a JSON data block; app.js draws it with plotly.js.

    Data, not an inline script, so the Content-Security-Policy can forbid inline scripts.
    """
    spec = json.loads(figure.to_json())  # plotly's encoder: dates, numpy arrays
    spec["config"] = {"displaylogo": False, "responsive": True}
    data = json.dumps(spec, separators=(",", ":")).translate(_JSON_ESCAPES)
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
