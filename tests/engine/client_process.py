"""A process without the workflows' code: drives runs by name with `durable.client`.

Run as `python -m tests.engine.client_process RUN_ID`; it prints one JSON line of what it
saw, including whether the workflow modules were ever imported here.
"""

from __future__ import annotations

import json
import sys

import django


def main(run_id: str) -> dict:
    from durable import client
    from durable.core import _registry as registry
    from durable.errors import WorkflowError

    handle = client.start(
        "tests.client.approval", args=["order-7", [40, 2]], kwargs={"currency": "USD"},
        run_id=run_id, queue="orders", tags={"tier": "web"},
    )  # fmt: skip
    again = client.start("tests.client.approval", args=["other", [1]], run_id=run_id)
    published = handle.get_event("total", timeout=30)
    client.send(run_id, "approved", topic="decision")
    output = client.result(run_id, timeout=30)
    failed = client.start("tests.client.refuses", args=["out of stock"], run_id=run_id + "-x")
    try:
        failed.result(timeout=30)
        error = None
    except (ValueError, WorkflowError) as exc:
        error = [type(exc).__name__, str(exc)]
    return {
        "same_handle": again == handle,
        "event": published,
        "output": output,
        "error": error,
        "registered": registry.registered_names(),
        "imported": sorted(name for name in sys.modules if name.startswith("tests.engine.")),
    }


if __name__ == "__main__":
    django.setup()
    print(json.dumps(main(sys.argv[1])))
