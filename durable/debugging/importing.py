"""Load an exported run into this database (a laptop, a staging copy) to debug it there.

Imported runs are records, not work: a run that was still active where it was exported is
imported CANCELLED (resume it to execute it here), so no executor picks it up by surprise.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction

from durable.debugging.export import FORMAT, FORMAT_VERSION
from durable.debugging.records import from_record
from durable.errors import DurableError
from durable.models import Attempt, Run, RunStatus, Step

MAX_RUN_ID = 200


class ImportRefused(DurableError):
    """The document cannot be imported as it is; the message says what to change."""


def import_runs(document: dict[str, Any], *, rename: bool = False) -> dict[str, str]:
    """Insert every run of `document`; returns {exported id: id in this database}.

    An id that exists here is refused unless `rename`, which gives every imported run a
    new id (references between the imported runs follow).
    """
    entries = _checked_entries(document)
    ids = [entry["run"]["id"] for entry in entries]
    with transaction.atomic():
        taken = set(Run.objects.filter(id__in=ids).values_list("id", flat=True))
        if taken and not rename:
            raise ImportRefused(
                f"run id(s) already in this database: {', '.join(sorted(taken))}; "
                "import with --rename to give the imported runs new ids"
            )
        mapping = _renamed(ids) if taken else {run_id: run_id for run_id in ids}
        for entry in entries:
            _insert(entry, mapping)
        _link(entries, mapping)
    return mapping


def _checked_entries(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ImportRefused(
            f'not a run export (expected "format": "{FORMAT}"); '
            "create one with `manage.py durable export RUN_ID`"
        )
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ImportRefused(
            f"export format version {version!r} is newer than this code reads "
            f"(up to {FORMAT_VERSION}); upgrade durable here to import it"
        )
    return list(document.get("runs") or [])


def _renamed(ids: list[str]) -> dict[str, str]:
    suffix = f".import-{uuid.uuid4().hex[:6]}"
    return {run_id: run_id[: MAX_RUN_ID - len(suffix)] + suffix for run_id in ids}


def _insert(entry: dict[str, Any], mapping: dict[str, str]) -> None:
    record = {**entry["run"], "id": mapping[entry["run"]["id"]]}
    record.update(parent_id=None, forked_from_id=None, executor_id=None, lease_expires_at=None)
    run = from_record(Run, record)
    if run.status in RunStatus.active():
        run.cancel_reason = f"imported while {run.status}; resume it to execute it here"
        run.status = RunStatus.CANCELLED
    run.save(force_insert=True)
    Step.objects.bulk_create([_step(run.id, step, mapping) for step in entry.get("steps", [])])
    Attempt.objects.bulk_create(
        [
            from_record(Attempt, {**attempt, "run_id": run.id})
            for attempt in entry.get("attempts", [])
        ]
    )


def _step(run_id: str, record: dict[str, Any], mapping: dict[str, str]) -> Step:
    """A child entry's output names the child run: it follows a rename, so replay finds it."""
    output = record.get("output")
    if (
        record.get("kind") == "child"
        and isinstance(output, dict)
        and output.get("run_id") in mapping
    ):
        record = {**record, "output": {**output, "run_id": mapping[output["run_id"]]}}
    return from_record(Step, {**record, "run_id": run_id})


def _link(entries: list[dict[str, Any]], mapping: dict[str, str]) -> None:
    """Parent and fork links, where the linked run is here (imported with it, or already)."""
    present = set(
        Run.objects.filter(id__in=_linked_ids(entries, mapping)).values_list("id", flat=True)
    )
    for entry in entries:
        run = entry["run"]
        links = {
            "parent_id": mapping.get(run.get("parent_id"), run.get("parent_id")),
            "forked_from_id": mapping.get(run.get("forked_from_id"), run.get("forked_from_id")),
        }
        links = {key: value for key, value in links.items() if value in present}
        if links:
            Run.objects.filter(id=mapping[run["id"]]).update(**links)


def _linked_ids(entries: list[dict[str, Any]], mapping: dict[str, str]) -> set[str]:
    ids = set()
    for entry in entries:
        for key in ("parent_id", "forked_from_id"):
            value = entry["run"].get(key)
            if value:
                ids.add(mapping.get(value, value))
    return ids
