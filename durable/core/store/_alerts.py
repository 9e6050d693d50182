"""SQL of alerting: what each kind of rule watches (one read per rule, scoped by workflow,
queue and tag), and the conditional writes that decide which executor evaluates a rule,
sends a delivery, re-notifies or resolves an incident (whoever's write changes the row).

A failure group is what the Failures page groups: workflow, step, error type and
fingerprint of a run's latest final failed attempt; a run superseded by a fork or restart
of it no longer counts (`durable.operations._superseded`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from durable.core.store._execute import Rows, execute


class Scope(TypedDict):
    """A rule's scope and threshold, the parameters of every condition statement."""

    workflow: str  # '' for every workflow
    queue: str  # '' for every queue
    tag: str | None  # a JSON object the run's tags must contain, or None
    threshold: float


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

VERSION_SERVED = """
-- alert_version_served --
-- Does a live executor run this workflow at this version (its "name@version" key, as written)?
SELECT EXISTS (
    SELECT 1 FROM durable_executor e
    WHERE e.last_seen_at > now() - make_interval(secs => %(alive)s)
      AND %(workflow)s || '@' || %(version)s = ANY (e.workflows) AND %(version)s <> ''
)
"""

CLAIM_DUE_RULES = """
-- claim_due_alert_rules --
-- Move each due, enabled rule's next evaluation forward; the executor whose UPDATE changed
-- the row evaluates it (SKIP LOCKED: a second executor skips rules being claimed)
UPDATE durable_alertrule SET next_evaluation_at = now() + make_interval(secs => %(every)s)
WHERE id IN (
    SELECT id FROM durable_alertrule
    WHERE enabled AND next_evaluation_at <= now() FOR UPDATE SKIP LOCKED
)
RETURNING id
"""

STAMP_INCIDENT_NOTIFIED = """
-- stamp_incident_notified --
-- A new incident's first notification time, from the database's clock (as the re-notify
-- claim reads it)
UPDATE durable_alertincident SET last_notified_at = now() WHERE id = %(id)s
"""

CLAIM_RENOTIFY = """
-- claim_incident_renotify --
-- Take the re-notification of one open incident whose interval has passed
UPDATE durable_alertincident SET last_notified_at = now()
WHERE id = %(id)s AND status = 'open'
  AND last_notified_at <= now() - make_interval(secs => %(renotify)s)
RETURNING id
"""

CLAIM_RESOLVE = """
-- claim_incident_resolve --
-- Close one open incident; the row count says whether this executor closed it
UPDATE durable_alertincident SET status = 'resolved', resolved_at = now()
WHERE id = %(id)s AND status = 'open'
RETURNING id
"""

REQUEUE_STUCK_DELIVERIES = """
-- requeue_stuck_deliveries --
-- An executor that died while sending left its attempt 'sending': a claim older than
-- %(stuck)s seconds (a send takes at most DURABLE_ALERT_TIMEOUT_SECONDS) is pending again
UPDATE durable_alertdelivery SET status = 'pending'
WHERE status = 'sending'
  AND next_attempt_at < statement_timestamp() - make_interval(secs => %(stuck)s)
"""

CLAIM_DUE_DELIVERIES = """
-- claim_due_deliveries --
-- Take pending attempts that are due (alert_delivery_due_idx); SKIP LOCKED and the status
-- change decide which executor sends each; next_attempt_at becomes the claim's time.
-- statement_timestamp(), as Django's Now() that wrote next_attempt_at, so a retry due at
-- once is due inside one transaction too
-- (MATERIALIZED: taken once, or a plan that rescans the LIMIT takes more than `limit`)
WITH due AS MATERIALIZED (
    SELECT id FROM durable_alertdelivery
    WHERE status = 'pending' AND next_attempt_at <= statement_timestamp()
    ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
UPDATE durable_alertdelivery SET status = 'sending', next_attempt_at = statement_timestamp()
WHERE id IN (SELECT id FROM due)
RETURNING id
"""

PRUNE_DELIVERIES = """
-- prune_deliveries --
-- Finished delivery attempts (sent or failed) that ended before the cutoff, a batch at a
-- time; attempts still to be sent stay. A scan: a few rows per notification, once an hour
DELETE FROM durable_alertdelivery WHERE id IN (
    SELECT id FROM durable_alertdelivery
    WHERE status IN ('sent', 'failed') AND COALESCE(finished_at, created_at) < %(cutoff)s
    LIMIT %(limit)s
)
RETURNING id
"""


def failing_groups(scope: Scope) -> Rows:
    """(workflow, step, error type, fingerprint, runs, a message, a run id) per group."""
    return execute(FAILING_GROUPS, dict(scope))


def growing_groups(scope: Scope) -> Rows:
    """As `failing_groups`, counting final failures in the last minute."""
    return execute(GROWING_GROUPS, dict(scope))


def dead_runs(scope: Scope) -> Rows:
    """(workflow, count, latest run id) of unsuperseded DEAD runs."""
    return execute(DEAD_RUNS, dict(scope))


def queue_waits(scope: Scope) -> Rows:
    """(queue, waiting runs, seconds the oldest due one waited)."""
    return execute(QUEUE_WAITS, dict(scope))


def lost_executors(scope: Scope) -> Rows:
    """(executor id, hostname, pid, last seen, runs recovered) within the last hour."""
    return execute(LOST_EXECUTORS, dict(scope))


def version_served(workflow: str, version: str, alive: float) -> bool:
    params = {"alive": alive, "workflow": workflow, "version": version}
    return bool(execute(VERSION_SERVED, params)[0][0])


def claim_due_rules(every: float) -> list[int]:
    """The ids of the due rules this executor evaluates now."""
    return [row[0] for row in execute(CLAIM_DUE_RULES, {"every": every})]


def stamp_incident_notified(incident_id: int) -> None:
    execute(STAMP_INCIDENT_NOTIFIED, {"id": incident_id})


def claim_incident_renotify(incident_id: int, renotify: float) -> bool:
    return bool(execute(CLAIM_RENOTIFY, {"id": incident_id, "renotify": renotify}))


def claim_incident_resolve(incident_id: int) -> bool:
    return bool(execute(CLAIM_RESOLVE, {"id": incident_id}))


def prune_deliveries(cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` finished attempts older than `cutoff`; how many went."""
    return len(execute(PRUNE_DELIVERIES, {"cutoff": cutoff, "limit": limit}))


def claim_due_deliveries(limit: int, stuck: float) -> list[int]:
    """Make stuck attempts pending again, then take up to `limit` due ones."""
    execute(REQUEUE_STUCK_DELIVERIES, {"stuck": stuck})
    return [row[0] for row in execute(CLAIM_DUE_DELIVERIES, {"limit": limit})]
