"""On Celery: runs execute exactly once across worker processes, and survive SIGKILL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count

import durable
from durable.models import Run, RunStatus
from tests.engine import celery_processes
from tests.engine.celery_workflows import ticks
from tests.engine.processes import wait_for

pytestmark = pytest.mark.slow
celery_cluster = celery_processes.celery_cluster


def count_finished(prefix: str) -> int:
    return Run.objects.filter(id__startswith=prefix, status=RunStatus.SUCCESS).count()


def repeated_effects() -> list[tuple[str, str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT run_id, label, count(*) FROM test_side_effect GROUP BY run_id, label"
            " HAVING count(*) > 1 ORDER BY run_id, label"
        )
        return cursor.fetchall()


@pytest.mark.parametrize("celery_cluster", ["redis", "rabbitmq"], indirect=True)
def test_200_workflows_on_two_workers_each_complete_exactly_once(celery_cluster, side_effects):
    celery_cluster.start(2)
    for index in range(200):
        durable.start(ticks, f"many-{index}", 2, 0, run_id=f"many-{index}")
    wait_for(lambda: count_finished("many-") == 200, 90, "200 runs to finish")

    assert repeated_effects() == []
    assert sum(side_effects().values()) == 200 * 4
    runs = Run.objects.filter(id__startswith="many-")
    assert {run.output for run in runs} == {2}
    assert {run.recovery_count for run in runs} == {0}
    assert runs.values("executor_id").distinct().count() == 2, "both workers executed runs"


def test_sigkill_of_a_worker_mid_run_loses_nothing_and_repeats_no_recorded_step(
    celery_cluster, side_effects
):
    runs, steps = 16, 12
    victim, _ = celery_cluster.start(2)
    for index in range(runs):
        durable.start(ticks, f"kill-{index}", steps, 0.05, run_id=f"kill-{index}")

    def victim_mid_run() -> bool:
        executors = (
            Run.objects.filter(id__startswith="kill-", status=RunStatus.RUNNING)
            .annotate(recorded=Count("steps"))
            .filter(recorded__gte=4)
            .values_list("executor_id", flat=True)
        )
        return any(f":{victim.pid}:" in (executor or "") for executor in executors)

    wait_for(victim_mid_run, 60, "the victim to be mid-run")
    celery_cluster.kill(victim)
    wait_for(lambda: count_finished("kill-") == runs, 60, "every run to finish after the kill")

    recovered = Run.objects.filter(id__startswith="kill-", recovery_count__gte=1)
    assert recovered.exists(), "the killed worker's runs were recovered"
    for run in Run.objects.filter(id__startswith="kill-"):
        assert (run.output, run.steps.count()) == (steps, 2 * steps), run.id
    effects = _effects_by_run()
    for run_id, labels in effects.items():
        txn = [labels.get(f"txn-{i}", 0) for i in range(steps)]
        plain = [labels.get(f"plain-{i}", 0) for i in range(steps)]
        assert txn == [1] * steps, (run_id, txn)
        # a plain step body is at-least-once: only the one in flight at the kill may repeat
        assert min(plain) == 1 and sum(plain) - steps <= 1, (run_id, plain)
    assert len(effects) == runs


def _effects_by_run() -> dict[str, dict[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT run_id, label, count(*) FROM test_side_effect GROUP BY 1, 2")
        effects: dict[str, dict[str, int]] = {}
        for run_id, label, count in cursor.fetchall():
            effects.setdefault(run_id, {})[label] = count
        return effects
