"""Deleting finished runs by id, under the rules prune keeps.

A run is deleted with its descendants (children, their children) and everything recorded
for them; its forks stay and lose the link, since they hold copies of what they reused.
Prune's rule holds: a child goes only with its parent, since a parent that is kept may
replay `child.result()` (or be resumed and do so). So a delete is refused for a run that
has not finished, for one with an unfinished descendant, and for a child none of whose
ancestors is named (its parent is kept). A named run inside the tree of another named run
goes with that tree, and counts as done; `tree_batches` keeps a tree in one batch. The
caller (`operations.delete`) locks the named runs and audits the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from durable.core import _lineage as lineage
from durable.core.store import _trees as store_trees
from durable.models import RunStatus


@dataclass
class Deleted:
    """`done`: the named runs deleted; `descendants`: runs deleted with them, unnamed."""

    done: list[str] = field(default_factory=list)
    descendants: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def named_roots(run_ids: list[str]) -> dict[str, str]:
    """Each named run's farthest named ancestor, or itself when none is named: the run
    whose tree decides its fate (a named run inside a deleted tree goes with it)."""
    named = set(run_ids)
    roots = {run_id: run_id for run_id in run_ids}
    for run_id, ancestor in store_trees.run_ancestors(run_ids):
        if ancestor in named:  # nearest first, so the last one named is the farthest
            roots[run_id] = ancestor
    return roots


def tree_batches(run_ids: list[str], size: int) -> list[tuple[int, list[str]]]:
    """The request in chunks of `size` (keyed by offset, as for every action), except that
    a named run joins the chunk where its tree's first named run falls: a tree is judged
    and deleted in one batch, so no run of it is refused in one batch and deleted in
    another, or missing from the batch that deleted it."""
    roots = named_roots(run_ids)
    chunk_of: dict[str, int] = {}
    for position, run_id in enumerate(run_ids):
        chunk_of.setdefault(roots[run_id], position - position % size)
    chunks: dict[int, list[str]] = {}
    for run_id in run_ids:
        chunks.setdefault(chunk_of[roots[run_id]], []).append(run_id)
    return sorted(chunks.items())


def delete_batch(batch: list[str]) -> Deleted:
    """Delete the finished runs of `batch` (locked by the caller) with their descendants;
    a named run with a named ancestor goes with that ancestor's tree, or stays with it."""
    facts = {row[0]: (row[1], row[2]) for row in store_trees.run_facts(batch)}
    roots = named_roots(batch)
    result = Deleted()
    for run_id in batch:
        if refusal := _refusal(run_id, facts):
            result.refused[run_id] = refusal
    doomed: list[str] = []
    for run_id in batch:
        if roots[run_id] == run_id and run_id not in result.refused:
            parent = facts[run_id][1]
            if parent is not None:
                result.refused[run_id] = (
                    f"it is a child of run {parent}, which is kept and may replay its result; "
                    f"delete {parent} instead (its children go with it)"
                )
            else:
                doomed.extend(_finished_tree(run_id, result))
    deleted = set(doomed)
    for run_id in batch:
        if run_id in deleted:
            result.done.append(run_id)
        elif run_id not in result.refused:  # its named ancestor's tree is kept
            root = roots[run_id]
            kin = "parent" if facts[run_id][1] == root else "ancestor"
            result.refused[run_id] = f"its {kin} {root} is kept: {result.refused[root]}"
    named = set(batch)
    result.descendants = [run_id for run_id in doomed if run_id not in named]
    if doomed:
        store_trees.delete_runs(doomed)
    return result


def _refusal(run_id: str, facts: dict[str, tuple[str, str | None]]) -> str:
    if run_id not in facts:
        return "no such run"
    status = facts[run_id][0]
    if status not in RunStatus.terminal():
        return (
            f"it is {status}; only finished runs can be deleted — cancel it first, or wait "
            "for it to end"
        )
    return ""


def _finished_tree(run_id: str, result: Deleted) -> list[str]:
    """The run and its descendants, or nothing (with the refusal) if one has not finished."""
    descendants = lineage.lock_descendants([run_id])
    rows = store_trees.run_facts(descendants) if descendants else []
    live = sorted(child for child, status, _ in rows if status not in RunStatus.terminal())
    if live:
        result.refused[run_id] = (
            f"its descendant run {live[0]} has not finished; cancel it or wait for it, "
            "then delete this run (its children go with it)"
        )
        return []
    return [run_id, *descendants]
