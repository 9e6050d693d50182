"""What each kind of rule watches: one read per rule (its statement is in
`durable.core.store._alerts`), returning the subjects for which the condition holds now. A
subject that no longer appears has cleared (its incident is resolved).

A failure group is what the Failures page groups: workflow, step, error type and
fingerprint of a run's latest final failed attempt. It "stops failing" when none of its
runs is still ERROR or DEAD: each succeeded since (resumed) or is superseded by a fork or
restart, whatever that one's outcome (the page's rule, `durable.operations._superseded`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from durable.core.store import _alerts as store_alerts
from durable.core.store._alerts import Scope
from durable.models import AlertKind, AlertRule
from durable.observability._untaken import untaken


@dataclass(frozen=True)
class Finding:
    """One subject for which a rule's condition holds now."""

    key: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def group_key(workflow: str, step: str, error_type: str, fingerprint: str) -> str:
    return f"group:{workflow}|{step}|{error_type}|{fingerprint}"


def scope_params(rule: AlertRule) -> Scope:
    tag = None
    if rule.tag:
        name, _, value = rule.tag.partition("=")
        tag = json.dumps({name.strip(): value.strip()})
    return {
        "workflow": rule.workflow,
        "queue": rule.queue,
        "tag": tag,
        "threshold": rule.threshold,
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


def _failing_groups(params: Scope) -> list[Finding]:
    return _groups(store_alerts.failing_groups(params), "runs failing")


def _growing_groups(params: Scope) -> list[Finding]:
    return _groups(store_alerts.growing_groups(params), "failures in the last minute")


def _dead_runs(params: Scope) -> list[Finding]:
    return [
        Finding(
            f"dead:{workflow}",
            f"{count} run(s) of {workflow} gone DEAD (recoveries exceeded)",
            {"workflow": workflow, "count": count, "sample_run": run_id},
        )
        for workflow, count, run_id in store_alerts.dead_runs(params)
    ]


def _queue_waits(params: Scope) -> list[Finding]:
    return [
        Finding(
            f"queue:{queue}",
            f"queue {queue}: oldest due run has waited {int(waited)}s ({count} waiting)",
            {"queue": queue, "count": count, "waited_seconds": float(waited)},
        )
        for queue, count, waited in store_alerts.queue_waits(params)
    ]


def _unserved(params: Scope) -> list[Finding]:
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


def _lost_executors(params: Scope) -> list[Finding]:
    findings = []
    for executor_id, hostname, pid, last_seen, runs in store_alerts.lost_executors(params):
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
