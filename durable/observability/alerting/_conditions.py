"""What each kind of rule watches: one SQL read per rule, returning the subjects for which
the condition holds now. A subject that no longer appears has cleared (its incident is
resolved).

A failure group is what the Failures page groups: workflow, step, error type and
fingerprint of a run's latest final failed attempt. It "stops failing" when none of its
runs is still ERROR or DEAD: each succeeded since (resumed) or is superseded by a fork or
restart, whatever that one's outcome (the page's rule, `durable.operations._superseded`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from durable.core.conf import settings
from durable.core.store import execute
from durable.models import AlertKind, AlertRule
from durable.observability._untaken import untaken

SCOPE = """
    AND (%(workflow)s = '' OR r.workflow = %(workflow)s)
    AND (%(queue)s = '' OR r.queue = %(queue)s)
    AND (%(tag)s::jsonb IS NULL OR r.tags @> %(tag)s::jsonb)"""

FAILING_GROUPS = (
    """
-- alert_failing_groups --
-- Failure groups with a run still failing: each ERROR/DEAD run (run_status_created_idx)
-- counted under its latest final attempt, unless superseded (a fork or restart of it
-- exists, whatever its outcome: durable.operations._superseded)
WITH failing AS (
    SELECT DISTINCT ON (a.run_id) r.workflow, a.name, a.error_type, a.error_fingerprint,
           a.error->>'message' AS message, a.run_id
    FROM durable_run r JOIN durable_attempt a ON a.run_id = r.id AND a.final
    WHERE r.status IN ('ERROR', 'DEAD')"""
    + SCOPE
    + """
      AND NOT EXISTS (
          SELECT 1 FROM durable_run f WHERE f.forked_from_id = r.id)
    ORDER BY a.run_id, a.finished_at DESC
)
SELECT workflow, name, error_type, error_fingerprint, count(*) AS runs,
       (array_agg(message ORDER BY run_id DESC))[1], (array_agg(run_id ORDER BY run_id DESC))[1]
FROM failing GROUP BY 1, 2, 3, 4 ORDER BY runs DESC LIMIT 200
"""
)

GROWING_GROUPS = (
    """
-- alert_growing_groups --
-- Failure groups with more than %(threshold)s final failed attempts in the last minute
-- (attempt_final_idx)
SELECT r.workflow, a.name, a.error_type, a.error_fingerprint, count(*) AS n,
       (array_agg(a.error->>'message' ORDER BY a.finished_at DESC))[1],
       (array_agg(a.run_id ORDER BY a.finished_at DESC))[1]
FROM durable_attempt a JOIN durable_run r ON r.id = a.run_id
WHERE a.final AND a.finished_at > now() - interval '60 seconds'"""
    + SCOPE
    + """
GROUP BY 1, 2, 3, 4 HAVING count(*) > %(threshold)s ORDER BY n DESC LIMIT 200
"""
)

DEAD_RUNS = (
    """
-- alert_dead_runs --
-- DEAD runs per workflow, unless superseded by a fork or restart
SELECT r.workflow, count(*), (array_agg(r.id ORDER BY r.created_at DESC))[1]
FROM durable_run r WHERE r.status = 'DEAD'"""
    + SCOPE
    + """
  AND NOT EXISTS (
      SELECT 1 FROM durable_run f WHERE f.forked_from_id = r.id)
GROUP BY 1 LIMIT 200
"""
)

QUEUE_WAITS = (
    """
-- alert_queue_waits --
-- Queues whose oldest due ENQUEUED run has waited longer than %(threshold)s seconds
SELECT r.queue, count(*), extract(epoch FROM now() - min(r.available_at))
FROM durable_run r
WHERE r.status = 'ENQUEUED' AND r.available_at < now() - make_interval(secs => %(threshold)s)"""
    + SCOPE
    + """
GROUP BY 1 LIMIT 200
"""
)

LOST_EXECUTORS = (
    """
-- alert_lost_executors --
-- Executors declared dead within the last hour: a recovery took their runs (durable_recovery,
-- kept after the executor's own row is forgotten), unless the owner later showed it was
-- alive; in scope when one of the runs taken is. Clean shutdowns release their runs and
-- leave no verdict, so a deploy does not page.
SELECT v.executor_id, max(v.hostname), max(v.pid), max(v.last_seen_at), count(*)
FROM durable_recovery v JOIN durable_run r ON r.id = v.run_id
WHERE v.recovered_at > now() - interval '1 hour' AND v.owner_alive_at IS NULL"""
    + SCOPE
    + """
GROUP BY v.executor_id LIMIT 200
"""
)


@dataclass(frozen=True)
class Finding:
    """One subject for which a rule's condition holds now."""

    key: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def group_key(workflow: str, step: str, error_type: str, fingerprint: str) -> str:
    return f"group:{workflow}|{step}|{error_type}|{fingerprint}"


def scope_params(rule: AlertRule) -> dict[str, Any]:
    tag = None
    if rule.tag:
        name, _, value = rule.tag.partition("=")
        tag = json.dumps({name.strip(): value.strip()})
    alive = 2 * float(settings.DURABLE_LEASE_SECONDS)
    return {
        "workflow": rule.workflow,
        "queue": rule.queue,
        "tag": tag,
        "threshold": rule.threshold,
        "alive": alive,
    }


def _groups(rows: list[tuple], what: str) -> list[Finding]:
    findings = []
    for workflow, step, error_type, fingerprint, count, message, run_id in rows:
        details = {
            "workflow": workflow,
            "step": step,
            "error_type": error_type,
            "fingerprint": fingerprint,
            "count": count,
            "message": (message or "")[:500],
            "sample_run": run_id,
        }
        summary = f"{workflow}: {error_type} in {step} ({count} {what}): {(message or '')[:200]}"
        findings.append(
            Finding(group_key(workflow, step, error_type, fingerprint), summary, details)
        )
    return findings


def _failing_groups(params: dict[str, Any]) -> list[Finding]:
    return _groups(execute(FAILING_GROUPS, params), "runs failing")


def _growing_groups(params: dict[str, Any]) -> list[Finding]:
    return _groups(execute(GROWING_GROUPS, params), "failures in the last minute")


def _dead_runs(params: dict[str, Any]) -> list[Finding]:
    return [
        Finding(
            f"dead:{workflow}",
            f"{count} run(s) of {workflow} gone DEAD (recoveries exceeded)",
            {"workflow": workflow, "count": count, "sample_run": run_id},
        )
        for workflow, count, run_id in execute(DEAD_RUNS, params)
    ]


def _queue_waits(params: dict[str, Any]) -> list[Finding]:
    return [
        Finding(
            f"queue:{queue}",
            f"queue {queue}: oldest due run has waited {int(waited)}s ({count} waiting)",
            {"queue": queue, "count": count, "waited_seconds": float(waited)},
        )
        for queue, count, waited in execute(QUEUE_WAITS, params)
    ]


def _unserved(params: dict[str, Any]) -> list[Finding]:
    """Due runs nobody takes because no executor serves their version or their queue's
    executors are all draining (the Health page's untaken groups; a full queue limit is not
    "nobody serves" and is left to queue_wait). The threshold is a grace in seconds."""
    findings = []
    for group in untaken(sample=0):
        if group.cause not in ("unserved", "drained") or group.waited_s < params["threshold"]:
            continue
        if params["workflow"] and group.workflow != params["workflow"]:
            continue
        if params["queue"] and group.queue != params["queue"]:
            continue
        findings.append(
            Finding(
                f"unserved:{group.queue}|{group.workflow}@{group.version}",
                f"{group.count} due run(s) of {group.workflow} in {group.queue}: {group.reason}",
                {
                    "workflow": group.workflow,
                    "version": group.version,
                    "queue": group.queue,
                    "count": group.count,
                    "cause": group.cause,
                    "waited_seconds": group.waited_s,
                },
            )
        )
    return findings


def _lost_executors(params: dict[str, Any]) -> list[Finding]:
    findings = []
    for executor_id, hostname, pid, last_seen, runs in execute(LOST_EXECUTORS, params):
        seen = last_seen.isoformat() if last_seen else None
        findings.append(
            Finding(
                f"executor:{executor_id}",
                f"executor {executor_id} ({hostname} pid {pid}) died: {runs} run(s) recovered",
                {"executor": executor_id, "last_seen_at": seen, "runs_recovered": runs},
            )
        )
    return findings


_READERS = {
    AlertKind.NEW_FAILURE_GROUP: _failing_groups,
    AlertKind.GROUP_GROWING: _growing_groups,
    AlertKind.RUNS_DEAD: _dead_runs,
    AlertKind.QUEUE_WAIT: _queue_waits,
    AlertKind.UNSERVED: _unserved,
    AlertKind.EXECUTOR_LOST: _lost_executors,
}


def findings(rule: AlertRule) -> list[Finding]:
    """The subjects for which `rule`'s condition holds now."""
    return _READERS[AlertKind(rule.kind)](scope_params(rule))
