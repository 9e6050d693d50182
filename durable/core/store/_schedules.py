"""SQL of the cron ticker: read the schedules, add a code schedule, claim a tick.

Same conventions as `durable.core.store`: one named statement per operation, one round trip each,
on Django's connection (so a claim commits or rolls back with the runs it starts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from durable.core.store._execute import execute


@dataclass(frozen=True)
class ScheduleRow:
    name: str
    workflow: str
    source: str
    cron: str
    missed_policy: str
    input: dict[str, Any] | None
    queue: str | None
    paused: bool
    revision: int
    last_tick_at: datetime | None


ALL_SCHEDULES = """
-- all_schedules --
-- Every schedule, once per pass of the ticker (one row per schedule: a small table)
SELECT name, workflow, source, cron, missed_policy, input, queue, paused, revision,
       last_tick_at
FROM durable_schedule ORDER BY name
"""


def all_schedules() -> list[ScheduleRow]:
    return [ScheduleRow(*row) for row in execute(ALL_SCHEDULES, {})]


ADD_CODE_SCHEDULE = """
-- add_code_schedule --
-- First sighting of an @durable.scheduled declaration: count from its latest past tick
INSERT INTO durable_schedule (name, workflow, source, cron, missed_policy, last_tick_at,
                              missed_ticks, paused, revision, created_at, updated_at)
VALUES (%(name)s, %(name)s, 'code', %(cron)s, %(policy)s, %(tick)s, 0, false, 0, now(), now())
ON CONFLICT (name) DO NOTHING
"""


def add_code_schedule(name: str, cron: str, policy: str, baseline: datetime) -> None:
    execute(ADD_CODE_SCHEDULE, {"name": name, "cron": cron, "policy": policy, "tick": baseline})


CLAIM_TICK = """
-- claim_tick --
-- One executor wins each tick: the conditional update decides. A paused schedule, or one
-- edited since it was read (another revision), claims nothing; a code schedule's cron and
-- policy follow the code that claims
UPDATE durable_schedule
SET last_tick_at = %(tick)s, cron = %(cron)s, missed_policy = %(policy)s,
    missed_ticks = missed_ticks + %(missed)s, updated_at = now()
WHERE name = %(name)s AND revision = %(revision)s AND NOT paused
  AND (last_tick_at IS NULL OR last_tick_at < %(tick)s)
RETURNING name
"""


def claim_tick(row: ScheduleRow, cron: str, policy: str, tick: datetime, missed: int) -> bool:
    params = {"name": row.name, "revision": row.revision, "cron": cron, "policy": policy,
              "tick": tick, "missed": missed}  # fmt: skip
    return bool(execute(CLAIM_TICK, params))


SERVED_ANYWHERE = """
-- served_anywhere --
-- Does an executor on record (live, or dead less than a lease ago) serve this workflow, at
-- any version? durable_executor is one row per executor: a small table
SELECT EXISTS (
    SELECT 1 FROM durable_executor e, unnest(e.workflows) AS key
    WHERE left(key, length(%(workflow)s) + 1) = %(workflow)s || '@')
"""


def served_anywhere(workflow: str) -> bool:
    """Whether some executor's code still has `workflow` (a code schedule's is its own)."""
    return bool(execute(SERVED_ANYWHERE, {"workflow": workflow})[0][0])
