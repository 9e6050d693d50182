"""Deleting finished runs by id, under the rules prune keeps.

A run is deleted with its descendants (children, their children) and everything recorded
for them; its forks stay and lose the link, since they hold copies of what they reused.
Prune's rule holds: a child goes only with its parent, since a parent that is kept may
replay `child.result()` (or be resumed and do so). So a delete is refused for a run that
has not finished, for one with an unfinished descendant, and for a child whose parent is
kept. The caller (`operations.delete`) locks the named runs and audits the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from durable import lineage, store
from durable.models import RunStatus
from durable.retention import DELETE_DOOMED

DELETE_RUNS = f"""
-- delete_runs --
-- Delete the named runs with everything recorded for them (prune's statement, by id)
WITH doomed AS (SELECT unnest(%(run_ids)s::text[]) AS id), {DELETE_DOOMED}"""

RUN_FACTS = """
-- run_facts --
-- Status and parent of runs the caller has locked
SELECT id, status, parent_id FROM durable_run WHERE id = ANY(%(run_ids)s)
"""


@dataclass
class Deleted:
    """`done`: the named runs deleted; `descendants`: runs deleted with them, unnamed."""

    done: list[str] = field(default_factory=list)
    descendants: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def delete_batch(batch: list[str]) -> Deleted:
    """Delete the finished runs of `batch` (locked by the caller) with their descendants."""
    facts = {row[0]: (row[1], row[2]) for row in store.execute(RUN_FACTS, {"run_ids": batch})}
    result = Deleted()
    named = set(batch)
    doomed: list[str] = []
    for run_id in batch:  # roots first: a named child goes with its named parent
        refusal = _refusal(run_id, facts, named)
        if refusal:
            result.refused[run_id] = refusal
        elif facts[run_id][1] is None or facts[run_id][1] not in named:
            tree = _finished_tree(run_id, result)
            doomed.extend(tree)
    for run_id in batch:
        if run_id in result.refused:
            continue
        if run_id in doomed:
            result.done.append(run_id)
        elif facts.get(run_id, (None, None))[1] in result.refused:
            parent = facts[run_id][1]
            result.refused[run_id] = f"its parent {parent} is kept: {result.refused[parent]}"
    result.descendants = [run_id for run_id in doomed if run_id not in named]
    if doomed:
        store.execute(DELETE_RUNS, {"run_ids": doomed})
    return result


def _refusal(run_id: str, facts: dict[str, tuple[str, str | None]], named: set[str]) -> str:
    if run_id not in facts:
        return "no such run"
    status, parent = facts[run_id]
    if status not in RunStatus.terminal():
        return (
            f"it is {status}; only finished runs can be deleted — cancel it first, or wait "
            "for it to end"
        )
    if parent is not None and parent not in named:
        return (
            f"it is a child of run {parent}, which is kept and may replay its result; "
            f"delete {parent} instead (its children go with it)"
        )
    return ""


def _finished_tree(run_id: str, result: Deleted) -> list[str]:
    """The run and its descendants, or nothing (with the refusal) if one has not finished."""
    descendants = lineage.lock_descendants([run_id])
    rows = store.execute(RUN_FACTS, {"run_ids": descendants}) if descendants else []
    live = sorted(child for child, status, _ in rows if status not in RunStatus.terminal())
    if live:
        result.refused[run_id] = (
            f"its descendant run {live[0]} has not finished; cancel it or wait for it, "
            "then delete this run (its children go with it)"
        )
        return []
    return [run_id, *descendants]
