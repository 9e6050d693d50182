"""SQL of seeing inside a run: live stack requests (the operator's question, the owner's
answer) and the log records of step attempts."""

from __future__ import annotations

import json
from typing import Any

from durable.core.store._execute import execute

ASK_STACK = """
-- ask_stack --
-- An operator's "where is it now?" about one run; its owner's heartbeat answers it. A question
-- already pending about the run is joined (one per run), asking for locals if either asker did
INSERT INTO durable_stackrequest (run_id, include_locals, requested_by, executor_id)
VALUES (%(run_id)s, %(include_locals)s, %(requested_by)s, '')
ON CONFLICT (run_id) WHERE answered_at IS NULL DO UPDATE
SET include_locals = durable_stackrequest.include_locals OR EXCLUDED.include_locals
RETURNING id
"""

PRUNE_STACK_REQUESTS = """
-- prune_stack_requests --
-- Forget questions asked over an hour ago (answered or abandoned), among the oldest rows by
-- primary key only, so each new question costs a bounded delete
DELETE FROM durable_stackrequest
WHERE id IN (SELECT id FROM durable_stackrequest ORDER BY id LIMIT %(batch)s)
  AND requested_at < now() - interval '1 hour'
"""

STACK_ANSWER = """
-- stack_answer --
-- The owner's answer to one request about one run, null while it is pending
SELECT answered_at IS NOT NULL, answer, executor_id FROM durable_stackrequest
WHERE id = %(id)s AND run_id = %(run_id)s
"""

PENDING_STACK_REQUESTS = """
-- pending_stack_requests --
-- Unanswered questions about the runs this executor's threads execute (a partial index)
SELECT id, run_id, include_locals FROM durable_stackrequest
WHERE run_id = ANY(%(run_ids)s) AND answered_at IS NULL
ORDER BY id
"""

ANSWER_STACK = """
-- answer_stack --
-- Write the owner's answer once; a request already answered keeps its first answer
UPDATE durable_stackrequest
SET answered_at = now(), answer = %(answer)s, executor_id = %(executor_id)s
WHERE id = %(id)s AND answered_at IS NULL
"""


def ask_stack(run_id: str, include_locals: bool, requested_by: str) -> int:
    """The id of the run's pending question (this one, or the one it joined); old questions
    are pruned first, so the table holds about an hour of them."""
    execute(PRUNE_STACK_REQUESTS, {"batch": 100})
    params = {"run_id": run_id, "include_locals": include_locals, "requested_by": requested_by}
    return execute(ASK_STACK, params)[0][0]


def stack_answer(run_id: str, request_id: int) -> tuple[bool, Any, str]:
    rows = execute(STACK_ANSWER, {"id": request_id, "run_id": run_id})
    return rows[0] if rows else (False, None, "")


RECORD_STEP_LOGS = """
-- record_step_logs --
-- One attempt's log records, in one statement when it ends (never one per log line)
INSERT INTO durable_steplog (run_id, position, attempt, records, dropped, run_created_at)
SELECT id, %(position)s, %(attempt)s, %(records)s::jsonb, %(dropped)s, created_at
FROM durable_run WHERE id = %(run_id)s
"""


def record_step_logs(
    run_id: str, position: int, attempt: int, records: list[dict[str, Any]], dropped: int
) -> None:
    params = {"run_id": run_id, "position": position, "attempt": attempt,
              "records": json.dumps(records), "dropped": dropped}  # fmt: skip
    execute(RECORD_STEP_LOGS, params)
