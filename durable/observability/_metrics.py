"""Prometheus metrics read from PostgreSQL at scrape time, so every process tells the same.

Gunicorn and Celery workers each hold their own memory; counters kept there would split
across processes and vanish on restart. Here a custom Collector answers each scrape with
a few aggregate queries over the system tables instead. Counters are derived from the
rows, so they step back when retention prunes old runs (Prometheus' `rate()` treats a
drop as a counter reset). Step histograms cover the last `DURABLE_METRICS_WINDOW_SECONDS`
(gauge histograms: a window's snapshot, not a running total).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from durable.core import _serving as serving
from durable.core.conf import settings
from durable.core.store import _monitoring as store_monitoring
from durable.core.store._monitoring import DURATION_BUCKETS, SIZE_BUCKETS
from durable.models import JobState, RunStatus
from durable.observability import _untaken as untaken

try:
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeHistogramMetricFamily,
        GaugeMetricFamily,
        Metric,
    )
    from prometheus_client.registry import Collector, CollectorRegistry
except ImportError:  # the [metrics] extra is not installed: exposition() says so
    Collector = object  # type: ignore[assignment,misc]
    CollectorRegistry = None  # type: ignore[assignment,misc]

MISSING = (
    "/metrics needs the prometheus-client package: pip install 'django-durable-runs[metrics]' "
    "(or set DURABLE_METRICS_ENABLED = False)"
)


OTHER = "other"


def fold(
    rows: list[tuple[Any, ...]], keys: int, labels: int, merge: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    """Rows past the DURABLE_METRICS_MAX_LABEL_VALUES busiest keys (the first `keys`
    columns, weighed by the first number after the `labels` label columns) summed into
    rows keyed "other": 5,000 imported workflow names cost one series, not 5,000.
    `merge` names how to combine each number column (default `sum`)."""
    limit = int(settings.DURABLE_METRICS_MAX_LABEL_VALUES)
    weights: dict[tuple[Any, ...], float] = {}
    for row in rows:
        weights[row[:keys]] = weights.get(row[:keys], 0) + (row[labels] or 0)
    if len(weights) <= limit:
        return rows
    kept = set(sorted(weights, key=lambda key: (-weights[key], key))[:limit])
    folded: dict[tuple[Any, ...], list[Any]] = {}
    result = []
    for row in rows:
        if row[:keys] in kept:
            result.append(row)
            continue
        label = (OTHER,) * keys + tuple(row[keys:labels])
        numbers = list(row[labels:])
        if label in folded:
            combine = merge + (sum,) * (len(numbers) - len(merge))
            folded[label] = [
                f((a, b)) for f, a, b in zip(combine, folded[label], numbers, strict=True)
            ]
        else:
            folded[label] = numbers
    return result + [(*label, *numbers) for label, numbers in folded.items()]


class DurableCollector(Collector):
    """Answers a scrape from PostgreSQL; register it on a registry to expose it."""

    def collect(self) -> Iterator[Metric]:
        yield from run_metrics(fold(store_monitoring.run_totals(), keys=1, labels=2))
        window = float(settings.DURABLE_METRICS_WINDOW_SECONDS)
        steps = store_monitoring.recent_steps(window)
        yield from step_metrics(fold(steps, keys=2, labels=2))
        attempts = CounterMetricFamily(
            "durable_step_failed_attempts",
            "Failed step attempts (each retry and each final failure), by step",
            labels=["step"],
        )
        for name, count in fold(store_monitoring.failed_attempts(), keys=1, labels=1):
            attempts.add_metric([name], count)
        yield attempts
        yield from queue_metrics(
            fold(store_monitoring.queue_loads(), keys=1, labels=1, merge=(sum, sum, max))
        )
        yield from executor_metrics(store_monitoring.executor_kinds(*serving.liveness()))
        yield untaken_metric(untaken.untaken(sample=0))
        yield from job_metrics(store_monitoring.bulk_job_states())


def job_metrics(rows: list[tuple[Any, ...]]) -> Iterator[Metric]:
    """Every state is reported (0 when none), so an alert on PAUSED or STOPPED can fire."""
    jobs = GaugeMetricFamily("durable_bulk_jobs", "Bulk jobs, by state", labels=["state"])
    left = GaugeMetricFamily(
        "durable_bulk_job_runs_left", "Runs that running or paused bulk jobs have yet to process"
    )
    counts = {state: (count, remaining) for state, count, remaining in rows}
    for state in JobState.values:
        jobs.add_metric([state], counts.get(state, (0, 0))[0])
    left.add_metric([], sum(counts.get(s, (0, 0))[1] for s in (JobState.RUNNING, JobState.PAUSED)))
    yield from (jobs, left)


def untaken_metric(groups: list[untaken.Untaken]) -> Metric:
    """Due runs no executor takes; labels stay bounded: workflow versions past
    DURABLE_METRICS_MAX_LABEL_VALUES fold into "other", causes are four."""
    gauge = GaugeMetricFamily(
        "durable_untaken_runs",
        "Due ENQUEUED runs that no executor takes now, by queue, workflow version and cause "
        "(drained, unserved, concurrency, rate_limit)",
        labels=["queue", "workflow", "version", "cause"],
    )
    rows = [(g.workflow, g.version, g.queue, g.cause, g.count) for g in groups]
    for workflow, version, queue, cause, count in fold(rows, keys=2, labels=4):
        gauge.add_metric([queue, workflow, version, cause], count)
    return gauge


def run_metrics(rows: list[tuple[Any, ...]]) -> Iterator[Metric]:
    created = CounterMetricFamily(
        "durable_runs_created", "Runs started, by workflow", labels=["workflow"]
    )
    finished = CounterMetricFamily(
        "durable_runs_finished",
        "Runs finished, by workflow and status",
        labels=["workflow", "status"],
    )
    current = GaugeMetricFamily(
        "durable_runs", "Runs by workflow and status", labels=["workflow", "status"]
    )
    dead = GaugeMetricFamily(
        "durable_dead_runs", "Runs parked DEAD, by workflow", labels=["workflow"]
    )
    recoveries = CounterMetricFamily(
        "durable_recoveries",
        "Runs recovered from a dead executor, by workflow",
        labels=["workflow"],
    )
    held = GaugeMetricFamily(
        "durable_runs_held", "Runs an operator holds (until released), by workflow",
        labels=["workflow"],
    )  # fmt: skip
    by_workflow: dict[str, list[int]] = {}
    for workflow, status, count, recovered, held_count in rows:
        totals = by_workflow.setdefault(workflow, [0, 0, 0, 0])
        totals[0] += count
        totals[1] += int(recovered)
        totals[2] += count if status == RunStatus.DEAD else 0
        totals[3] += held_count
        current.add_metric([workflow, status], count)
        if status in RunStatus.terminal():
            finished.add_metric([workflow, status], count)
    for workflow, (count, recovered, dead_count, held_count) in by_workflow.items():
        created.add_metric([workflow], count)
        recoveries.add_metric([workflow], recovered)
        dead.add_metric([workflow], dead_count)
        held.add_metric([workflow], held_count)
    yield from (created, finished, current, dead, recoveries, held)


def _cumulative(counts: tuple[int, ...], bounds: tuple[float, ...], total: int) -> list:
    return [(str(float(b)), c) for b, c in zip(bounds, counts, strict=True)] + [("+Inf", total)]


def step_metrics(rows: list[tuple[Any, ...]]) -> Iterator[Metric]:
    window = f"over the last {settings.DURABLE_METRICS_WINDOW_SECONDS:g}s"
    durations = GaugeHistogramMetricFamily(
        "durable_step_duration_seconds",
        f"Step durations {window}, by workflow and step",
        labels=["workflow", "step"],
    )
    sizes = GaugeHistogramMetricFamily(
        "durable_step_output_bytes",
        f"Stored checkpoint (output) sizes {window}, by workflow and step",
        labels=["workflow", "step"],
    )
    n = len(DURATION_BUCKETS)
    for workflow, step, count, seconds, size, *buckets in rows:
        durations.add_metric(
            [workflow, step], _cumulative(tuple(buckets[:n]), DURATION_BUCKETS, count), seconds
        )
        sizes.add_metric(
            [workflow, step], _cumulative(tuple(buckets[n:]), SIZE_BUCKETS, count), size
        )
    yield from (durations, sizes)


def queue_metrics(rows: list[tuple[Any, ...]]) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "durable_queue_depth", "Runs waiting (ENQUEUED), by queue", labels=["queue"]
    )
    running = GaugeMetricFamily("durable_queue_running", "Runs RUNNING, by queue", labels=["queue"])
    age = GaugeMetricFamily(
        "durable_queue_oldest_age_seconds",
        "How long the oldest due ENQUEUED run of a queue has waited",
        labels=["queue"],
    )
    for queue, waiting, active, oldest in rows:
        depth.add_metric([queue], waiting)
        running.add_metric([queue], active)
        age.add_metric([queue], float(oldest))
    yield from (depth, running, age)


def executor_metrics(rows: list[tuple[Any, ...]]) -> Iterator[Metric]:
    """Drained executors are live but take no new runs: they count apart, not as serving."""
    live = GaugeMetricFamily(
        "durable_executors_live",
        "Executors with a recent heartbeat that take new runs (not draining)",
        labels=["kind"],
    )
    draining = GaugeMetricFamily(
        "durable_executors_draining",
        "Executors with a recent heartbeat that an operator drained (no new runs)",
        labels=["kind"],
    )
    serving = GaugeMetricFamily(
        "durable_executors_serving",
        "Live executors, not draining, that can run a workflow version",
        labels=["workflow", "version"],
    )
    kinds: dict[tuple[str, bool], int] = {}
    served: dict[tuple[str, str], int] = {}
    for kind, workflows, drained in rows:
        kinds[(kind, drained)] = kinds.get((kind, drained), 0) + 1
        for key in [] if drained else workflows or []:
            workflow, _, version = key.partition("@")
            served[(workflow, version)] = served.get((workflow, version), 0) + 1
    for (kind, drained), count in kinds.items():
        (draining if drained else live).add_metric([kind], count)
    for workflow, version, count in fold([(*key, n) for key, n in served.items()], 2, 2):
        serving.add_metric([workflow, version], count)
    yield from (live, draining, serving)


def exposition(accept: str = "") -> tuple[bytes, str]:
    """The scrape body and its content type, in the format Prometheus asked for."""
    if CollectorRegistry is None:
        raise ImproperlyConfigured(MISSING)
    from prometheus_client.exposition import choose_encoder

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DurableCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
