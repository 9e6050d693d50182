"""The Celery app; workers start with `celery -A config worker` (see
durable/management/cli/worker.py); durable's tasks are loaded from durable.executors.tasks."""

from __future__ import annotations

import os

from celery import Celery

from durable.core.conf import DEFAULTS

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("durable")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# durable's tasks live in durable/executors/tasks.py, not at the app's top level
app.autodiscover_tasks(["durable.executors"])

# Celery's Django fixup closes each worker thread's database connection around every task;
# durable tasks are short and many, so keep it for 2 x N tasks (0 = close every time).
app.conf.CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "100")) or None

# For `celery -A config beat` deployments (workers then run with DURABLE_WORKER_SWEEPS=0);
# by default every worker sweeps in its maintenance thread and beat is not needed.
QUEUE = os.environ.get("DURABLE_CELERY_QUEUE", DEFAULTS["DURABLE_CELERY_QUEUE"])
SWEEP_SECONDS = float(os.environ.get("DURABLE_SWEEP_SECONDS", DEFAULTS["DURABLE_SWEEP_SECONDS"]))
app.conf.beat_schedule = {
    "durable-sweep": {
        "task": "durable.sweep",
        "schedule": SWEEP_SECONDS,
        "options": {"queue": QUEUE,
                    "expires": SWEEP_SECONDS * 2},
    },
}  # fmt: skip
