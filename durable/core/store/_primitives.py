"""SQL of the primitives beyond steps: messages to runs and events from runs
(cron ticks: `durable.core.store._schedules`).

Same conventions as `durable.core.store`: one named statement per operation, one round trip each,
on Django's connection (so they join the caller's transaction).
"""

from __future__ import annotations

from typing import Any

from durable.core.store._execute import execute

SEND_MESSAGE = """
-- send_message --
-- Queue a message for a run: (run exists, message inserted). Nothing is inserted if the
-- run does not exist, or if it already got a message with this idempotency key (the
-- unique index decides, so two concurrent sends with one key deliver it once)
WITH target AS (SELECT id FROM durable_run WHERE id = %(run_id)s),
inserted AS (
    INSERT INTO durable_message (run_id, topic, payload, created_at, idempotency_key)
    SELECT id, %(topic)s, %(payload)s::json, now(), %(key)s FROM target
    ON CONFLICT (run_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id)
SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM inserted)
"""


def send_message(
    run_id: str, topic: str, payload: str, key: str | None = None
) -> tuple[bool, bool]:
    """(the run exists, the message was inserted: False for a repeated idempotency key)."""
    params = {"run_id": run_id, "topic": topic, "payload": payload, "key": key}
    exists, inserted = execute(SEND_MESSAGE, params)[0]
    return exists, inserted


WAKE_RECEIVER = """
-- wake_receiver --
-- A run parked in recv (its last entry is the wait's deadline) with a message waiting on
-- `topic` becomes due at once (asked by the sender of a message on that topic, and by the
-- receiver, for the topic it waits on, once it has parked)
UPDATE durable_run r SET available_at = now()
WHERE r.id = %(run_id)s AND r.status = 'ENQUEUED' AND r.available_at > now()
  -- read from the run's one partition (migration 0039): inline, every daily partition
  -- was planned at every sent message
  AND durable_run_entry_name(r.id, r.created_at, r.steps_done - 1) = 'durable.recv.wait'
  AND EXISTS (SELECT 1 FROM durable_message m
              WHERE m.run_id = r.id AND m.topic = %(topic)s AND m.consumed_at IS NULL)
RETURNING r.id
"""


def wake_receiver(run_id: str, topic: str) -> bool:
    return bool(execute(WAKE_RECEIVER, {"run_id": run_id, "topic": topic}))


CONSUME_MESSAGE = """
-- consume_message --
-- Take the oldest unconsumed message of a run on a topic (commits with its checkpoint)
WITH oldest AS MATERIALIZED (  -- one message, however the UPDATE is planned
    SELECT id FROM durable_message
    WHERE run_id = %(run_id)s AND topic = %(topic)s AND consumed_at IS NULL
    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
UPDATE durable_message SET consumed_at = now(), consumed_position = %(position)s
WHERE id = (SELECT id FROM oldest)
RETURNING payload
"""


def consume_message(run_id: str, topic: str, position: int) -> tuple[bool, Any]:
    rows = execute(CONSUME_MESSAGE, {"run_id": run_id, "topic": topic, "position": position})
    return (True, rows[0][0]) if rows else (False, None)


SET_EVENT = """
-- set_event --
INSERT INTO durable_event (run_id, key, value, updated_at)
VALUES (%(run_id)s, %(key)s, %(value)s::json, now())
ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
"""


def set_event(run_id: str, key: str, value: str) -> None:
    execute(SET_EVENT, {"run_id": run_id, "key": key, "value": value})


SET_EVENT_FROM_STEP = """
-- set_event_from_step --
-- Publish an event a step set, and note it under the step's position (what a fork copies)
WITH noted AS (
    INSERT INTO durable_stepevent (run_id, position, key, value, created_at)
    VALUES (%(run_id)s, %(position)s, %(key)s, %(value)s::json, now()))
INSERT INTO durable_event (run_id, key, value, updated_at)
VALUES (%(run_id)s, %(key)s, %(value)s::json, now())
ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
"""


def set_event_from_step(run_id: str, key: str, value: str, position: int) -> None:
    params = {"run_id": run_id, "key": key, "value": value, "position": position}
    execute(SET_EVENT_FROM_STEP, params)


GET_EVENT = """
-- get_event --
SELECT value FROM durable_event WHERE run_id = %(run_id)s AND key = %(key)s
"""


def get_event(run_id: str, key: str) -> tuple[bool, Any]:
    rows = execute(GET_EVENT, {"run_id": run_id, "key": key})
    return (True, rows[0][0]) if rows else (False, None)


ALL_EVENTS = """
-- all_events --
-- Every event of a run, by key (event_run_key_uniq); one row with a NULL key when the run
-- exists without events, none when it does not exist
SELECT e.key, e.value FROM durable_run r
LEFT JOIN durable_event e ON e.run_id = r.id
WHERE r.id = %(run_id)s ORDER BY e.key
"""


def all_events(run_id: str) -> dict[str, Any] | None:
    """key -> latest value of run `run_id`'s events; None if there is no such run."""
    rows = execute(ALL_EVENTS, {"run_id": run_id})
    if not rows:
        return None
    return {key: value for key, value in rows if key is not None}
