"""SQL of restart and fork: what a derived run copies from its origin before the fork
point (checkpoints, messages, the events they published)."""

from __future__ import annotations

from typing import Any

from durable.core.store._execute import execute

COPY_CHECKPOINTS = """
-- copy_checkpoints --
-- A fork inherits its origin's checkpoints before the fork point, so they are not re-run
INSERT INTO durable_step (
    run_id, position, name, kind, status, input, input_hash, output, error, error_type,
    error_fingerprint, attempts, started_at, finished_at, duration_ms, patched, run_created_at)
SELECT %(new_id)s, position, name, kind, status, input,
       -- with edited input, the copied steps' inputs may differ by design: not checked
       CASE WHEN %(same_input)s THEN input_hash ELSE '' END, output, error, error_type,
       error_fingerprint, attempts, started_at, finished_at, duration_ms, patched,
       (SELECT created_at FROM durable_run WHERE id = %(new_id)s)  -- the new run's partition
FROM durable_step
WHERE run_id = %(origin_id)s AND position < %(from_step)s
  AND run_created_at = (SELECT created_at FROM durable_run WHERE id = %(origin_id)s)
"""

COPY_MESSAGES = """
-- copy_messages --
-- A new run gets the messages its origin got: consumed where a copied recv consumed them,
-- waiting where its own recv will run again (or its origin's never did)
INSERT INTO durable_message (run_id, topic, payload, created_at, consumed_at, consumed_position,
                             idempotency_key)
SELECT %(new_id)s, topic, payload, created_at,
       CASE WHEN consumed_position < %(from_step)s THEN consumed_at END,
       CASE WHEN consumed_position < %(from_step)s THEN consumed_position END, idempotency_key
FROM durable_message WHERE run_id = %(origin_id)s
ORDER BY id
"""

COPIED_EVENTS = """
-- copied_events --
-- The events the copied checkpoints published, in the order they published them: the
-- copied set_event entries, and the events the copied steps set
SELECT key, value FROM (
    SELECT position, 0 AS id, input->>'key' AS key, output::text AS value FROM durable_step
    WHERE run_id = %(new_id)s AND kind = 'set_event' AND position < %(from_step)s
      AND run_created_at = (SELECT created_at FROM durable_run WHERE id = %(new_id)s)
    UNION ALL
    SELECT position, id, key, value::text FROM durable_stepevent
    WHERE run_id = %(origin_id)s AND position < %(from_step)s
) published
ORDER BY position, id
"""

COPY_STEP_EVENTS = """
-- copy_step_events --
-- ... and the fork keeps the note of them, so a fork of the fork carries them too
INSERT INTO durable_stepevent (run_id, position, key, value, created_at)
SELECT %(new_id)s, position, key, value, created_at FROM durable_stepevent
WHERE run_id = %(origin_id)s AND position < %(from_step)s
ORDER BY id
"""


def copy_history(new_id: str, origin_id: str, from_step: int, same_input: bool) -> list[Any]:
    """Copy the origin's messages and, before `from_step`, its checkpoints and step events;
    the (key, value) events those checkpoints published, in publishing order."""
    params = {"new_id": new_id, "origin_id": origin_id, "from_step": from_step,
              "same_input": same_input}  # fmt: skip
    execute(COPY_MESSAGES, params)
    if not from_step:
        return []
    execute(COPY_CHECKPOINTS, params)
    events = execute(COPIED_EVENTS, params)
    execute(COPY_STEP_EVENTS, params)
    return events
