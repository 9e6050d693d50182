"""Export documents built by hand, as an attacker (or a careless tool) would write them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHECKOUT = "tests.debug.checkout"
AT = "2026-11-29T09:35:01.123456+00:00"


def run_entry(
    run_id: str,
    *,
    workflow: str = CHECKOUT,
    status: str = "SUCCESS",
    steps: list[dict] | None = None,
    attempts: list[dict] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    run = {"id": run_id, "workflow": workflow, "status": status,
           "input": {"args": ["o-1"], "kwargs": {}}, "created_at": AT, **fields}  # fmt: skip
    return {"run": run, "steps": steps or [], "attempts": attempts or []}


def step_record(position: int, **fields: Any) -> dict[str, Any]:
    return {"position": position, "name": "tests.engine.debug_workflows.fetch_quote",
            "kind": "step", "status": "SUCCESS", "input": {"args": ["o-1"], "kwargs": {}},
            "output": {"amount": 1}, "started_at": AT, "finished_at": AT, **fields}  # fmt: skip


def error_record(error_type: str, message: str = "boom") -> dict[str, Any]:
    return {"type": error_type, "message": message, "args": [message], "attrs": {},
            "traceback": "Traceback: planted\n"}  # fmt: skip


def document(*entries: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"format": "durable.run-export", "format_version": 1, "exported_at": AT,
            "runs": list(entries), **top}  # fmt: skip


def write(tmp_path: Path, value: Any, name: str = "run.json") -> Path:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
    return path
