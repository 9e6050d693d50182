"""Load an exported run into this database (a laptop, a staging copy) to debug it there.

The file is hostile until checked (`export_schema`): it is size-capped before it is parsed,
every field is typed and bounded, ids follow `start`'s rules, and nothing the engine keys
on is taken from it — no row id, no owner, no id the engine derives (a child's `parent~N`,
a schedule's `name@tick`), no link to a run already here. Imported runs are records, not
work: marked `imported`, never active (a run exported ENQUEUED or RUNNING arrives
CANCELLED), never adopted by a `start` with their id; an operator's resume or fork runs them.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

from django.db import transaction

from durable.core import _runtime as runtime
from durable.core._serialization import printable
from durable.core._validation import validate_new_run_id
from durable.core.conf import settings
from durable.debugging.export_schema import ImportRefused, records
from durable.errors import DurableError
from durable.models import Attempt, AuditEntry, Run, RunStatus, Step
from durable.operations import current_actor

__all__ = ["ImportRefused", "import_file", "import_runs", "import_text"]

RENAME_PREFIX = "imported-"
# an id holding one of these has the form of one the engine derives: runtime.child_run_id
# ("parent~3") and schedule ticks or manual triggers (cron.run_id_for: "name@20261129T0935Z")
DERIVED_MARKS = (runtime.CHILD_SEPARATOR, "@")
# ids the engine makes from a known start: a bulk job's run (`durable-job-<uuid5 of its request>`)
DERIVED_PREFIXES = ("durable-job-",)


def import_file(file: str, *, rename: bool = False, actor: str | None = None) -> dict[str, str]:
    """Import the export at path `file` ("-": stdin), refused unread when over the cap."""
    return import_text(_read(file), name=_label(file), rename=rename, actor=actor)


def import_text(
    content: str | bytes, *, name: str = "document", rename: bool = False, actor: str | None = None
) -> dict[str, str]:
    """Import an export given as text; returns {id in the file: id in this database}."""
    name = _label(name)
    data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    _check_size(name, len(data))
    document = _parse(name, data)
    source = {"file": name, "bytes": len(data)}
    return import_runs(document, rename=rename, actor=actor, source=source)


def import_runs(
    document: Any,
    *,
    rename: bool = False,
    actor: str | None = None,
    source: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Insert every run of a parsed `document`, all or none; returns {exported id: id here}.

    An id already here is refused (never merged); `rename` gives every run a fresh
    `imported-…` id instead, references between the imported runs following.
    """
    entries = records(document)
    ids = _unique_ids(entries)
    mapping = _renamed(ids) if rename else _adoptable(ids)
    with transaction.atomic():
        taken = sorted(Run.objects.filter(id__in=mapping.values()).values_list("id", flat=True))
        if taken:
            raise ImportRefused(
                f"run id(s) already in this database: {', '.join(taken)[:300]}; an import never "
                "replaces or merges a run: import with --rename to give the runs new ids"
            )
        _insert(entries, mapping)
        _audit(actor, mapping, source or {})
    return mapping


# -- reading -------------------------------------------------------------------------------


def _label(name: str) -> str:
    """The file's name as messages show it: on one line, whatever the path holds."""
    text = printable(str(name))
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)[:300]


def _read(file: str) -> bytes:
    limit = settings.DURABLE_IMPORT_MAX_BYTES
    try:
        if file == "-":  # a test's or a host's stdin may be text only
            stdin = getattr(sys.stdin, "buffer", None)
            data = stdin.read(limit + 1) if stdin else sys.stdin.read(limit + 1).encode()
        else:
            _check_size(_label(file), Path(file).stat().st_size)
            with open(file, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise ImportRefused(f"cannot read {_label(file)}: {exc.strerror or exc}") from None
    _check_size(_label(file), len(data))
    return data


def _check_size(name: str, size: int) -> None:
    limit = settings.DURABLE_IMPORT_MAX_BYTES
    if size > limit:  # a capped read of stdin stops at limit + 1 bytes
        amount = f"more than {limit:,}" if size == limit + 1 else f"{size:,}"
        raise ImportRefused(
            f"{name} is {amount} bytes, over the {limit:,}-byte import limit; export fewer "
            "runs (without --with-children) or raise DURABLE_IMPORT_MAX_BYTES"
        )


def _parse(name: str, data: bytes) -> Any:
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            f"{name} is not UTF-8 text (byte {exc.start}); pass the file `durable export` wrote"
        ) from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ImportRefused(
            f"{name} is nested too deeply to read; pass the file `durable export` wrote"
        ) from None
    except ValueError as exc:
        reason = " ".join(str(exc).split(";")[0].split())
        raise ImportRefused(
            f"{name} is not JSON ({reason}); pass the file `durable export` wrote"
        ) from None


def _no_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


# -- ids -----------------------------------------------------------------------------------


def _unique_ids(entries: list[dict[str, Any]]) -> list[str]:
    ids: dict[str, None] = {}  # ordered, and a set for the look-up
    for i, entry in enumerate(entries):
        run_id = entry["run"]["id"]
        if run_id in ids:
            raise ImportRefused(f"runs[{i}].run.id: {run_id!r} appears twice in the file")
        ids[run_id] = None
    return list(ids)


def _adoptable(ids: list[str]) -> dict[str, str]:
    """Ids kept as they are: only those a caller could choose for a new run themselves."""
    for i, run_id in enumerate(ids):
        derived = any(mark in run_id for mark in DERIVED_MARKS) or run_id.startswith(
            DERIVED_PREFIXES
        )
        try:
            validate_new_run_id(run_id)
        except DurableError:
            derived = True
        if derived:
            raise ImportRefused(
                f"runs[{i}].run.id: {run_id[:80]!r} has the form of an id the engine derives "
                "(a child run's 'parent~N', a schedule's 'name@tick', a bulk job's "
                "'durable-job-…'), which a later run "
                "would take for its own; import with --rename to give the runs new ids"
            )
    return {run_id: run_id for run_id in ids}


def _renamed(ids: list[str]) -> dict[str, str]:
    """`imported-<random>-<old id>`: readable, unique, and of no form the engine derives."""
    prefix = f"{RENAME_PREFIX}{uuid.uuid4().hex[:8]}-"
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, run_id in enumerate(ids):
        kept = run_id
        for mark in DERIVED_MARKS:
            kept = kept.replace(mark, "-")
        new_id = (prefix + kept)[: runtime.MAX_RUN_ID]
        try:
            validate_new_run_id(new_id)
        except DurableError:  # a cut that ends in a '.' segment, say
            new_id = f"{prefix}{index}"
        while new_id in taken:  # two long ids cut to the same start
            new_id = f"{prefix}{index}-{uuid.uuid4().hex[:6]}"
        mapping[run_id] = new_id
        taken.add(new_id)
    return mapping


# -- writing -------------------------------------------------------------------------------


LINKS = ("parent_id", "forked_from_id")
BATCH = 1000


def _insert(entries: list[dict[str, Any]], mapping: dict[str, str]) -> None:
    """Every run with its checkpoints and attempts; row ids come from this database."""
    Run.objects.bulk_create([_run(entry["run"], mapping) for entry in entries], batch_size=BATCH)
    # each history row carries its run's creation time: the partition it lands in
    created = dict(Run.objects.filter(id__in=mapping.values()).values_list("id", "created_at"))
    steps = [
        Step(
            run_id=mapping[entry["run"]["id"]],
            run_created_at=created[mapping[entry["run"]["id"]]],
            **_followed(step, mapping),
        )
        for entry in entries
        for step in entry["steps"]
    ]
    Step.objects.bulk_create(steps, batch_size=BATCH)
    attempts = [
        Attempt(
            run_id=mapping[entry["run"]["id"]],
            run_created_at=created[mapping[entry["run"]["id"]]],
            **attempt,
        )
        for entry in entries
        for attempt in entry["attempts"]
    ]
    Attempt.objects.bulk_create(attempts, batch_size=BATCH)


def _run(record: dict[str, Any], mapping: dict[str, str]) -> Run:
    """Parent and fork links only between runs of the file, never to a run already here (a
    planted child of a live parent would be taken as that parent's own)."""
    fields = {key: value for key, value in record.items() if key not in LINKS}
    links = {key: mapping.get(record.get(key) or "") for key in LINKS}  # "": no link
    run = Run(**{**fields, **links, "id": mapping[record["id"]], "imported": True})
    if run.status in RunStatus.active():
        run.cancel_reason = f"imported while {run.status}; resume it to execute it here"
        run.status = RunStatus.CANCELLED
    return run


def _followed(step: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """A child entry's output names the child run: it follows a rename, so replay finds it."""
    output = step.get("output")
    if step["kind"] == "child" and isinstance(output, dict) and output.get("run_id") in mapping:
        return {**step, "output": {**output, "run_id": mapping[output["run_id"]]}}
    return step


def _audit(actor: str | None, mapping: dict[str, str], source: dict[str, Any]) -> None:
    renamed = {old: new for old, new in mapping.items() if old != new}
    detail = {
        "file": printable(str(source.get("file", "")))[:500],
        "bytes": source.get("bytes"),
        "runs": len(mapping),
        **({"renamed": renamed} if renamed else {}),
    }
    AuditEntry.objects.create(
        actor=current_actor(actor), action="import", run_ids=list(mapping.values()), detail=detail
    )
