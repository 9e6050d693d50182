"""Durable's settings: every `DURABLE_*` default lives here, read lazily from Django's.

A host project defines only what it wants to change; reads go to `django.conf.settings`
first. Each value is cached after its first read (the step path reads several per step,
and a default missing from Django's settings costs an AttributeError there every time);
`override_settings` (and pytest-django's `settings`) empties the cache through Django's
`setting_changed` signal. Engine and dashboard modules import
`from durable.core.conf import settings` instead of Django's object.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # where runs execute: "thread" (in-process pool), "celery" or "external" (CLI only)
    "DURABLE_EXECUTOR": "thread",
    # extra modules that define workflows, imported by every executor
    "DURABLE_MODULES": [],
    # worker threads of the thread executor
    "DURABLE_THREADS": 8,
    # how long an owner's claim on a run lasts without renewal (renewed every third of it);
    # an owner whose lifeline lock is held keeps its runs past it
    "DURABLE_LEASE_SECONDS": 30.0,
    # an executor's lifeline heartbeat; an owner whose lifeline lock is gone and which has
    # been silent for 3 heartbeats is dead: its runs are recovered (docs/reliability.md)
    "DURABLE_HEARTBEAT_SECONDS": 0.5,
    # executor deaths a run survives before it is parked DEAD
    "DURABLE_MAX_RECOVERIES": 3,
    # how often the thread executor looks for due runs
    "DURABLE_POLL_SECONDS": 1.0,
    # sleeps and waits longer than this park the run instead of holding a thread
    "DURABLE_SLEEP_INLINE_SECONDS": 2.0,
    # a run parked in get_event (a wait longer than the above) looks for the event this often
    "DURABLE_PARKED_POLL_SECONDS": 2.0,
    # longest pause of a stream reader (read_stream) between looks for new values
    "DURABLE_STREAM_POLL_SECONDS": 0.2,
    # e.g. "30d": finished runs older than this are pruned hourly ("" keeps everything)
    "DURABLE_RETENTION": "",
    # width of one partition of the history tables (checkpoints, attempts, step logs), in
    # days of their runs' creation; retention drops a partition whole (docs/partitioning.md)
    "DURABLE_PARTITION_DAYS": 1,
    # partitions the executors' hourly duty keeps made ahead of today
    "DURABLE_PARTITIONS_AHEAD": 7,
    # live stacks (`durable stack RUN_ID`): how long the operator waits for the owner's answer
    "DURABLE_STACK_TIMEOUT_SECONDS": 5.0,
    # local variables shown per frame of a live stack (operators only)
    "DURABLE_STACK_MAX_LOCALS": 20,
    # longest repr of one local variable in a live stack, in characters
    "DURABLE_STACK_MAX_REPR_CHARS": 200,
    # names that hold secrets (any case, substrings): a live stack's local variables and dict
    # keys, and `name=value` pairs in kept step log lines, show their value as "<redacted>"
    "DURABLE_STACK_REDACT": ["password", "secret", "token", "key", "authorization", "cookie"],
    # keep the log records each step attempt emits (the logging module) with the run
    "DURABLE_STEP_LOGS": True,
    # the least severe level kept (records the host's logging lets through: the root logger at
    # this level or below, check durable.W020)
    "DURABLE_STEP_LOGS_LEVEL": "INFO",
    # also keep what a step prints to stdout (sys.stdout is wrapped, output still goes out)
    "DURABLE_STEP_LOGS_PRINT": False,
    # most records kept per attempt; later ones are counted as dropped
    "DURABLE_STEP_LOGS_MAX_RECORDS": 200,
    # most bytes of messages kept per attempt; later records are counted as dropped
    "DURABLE_STEP_LOGS_MAX_BYTES": 64 * 1024,
    # a link to the team's log system on the run page, e.g. a Loki, Elasticsearch or Datadog
    # search URL with {run_id} (and {workflow}) in it ("" shows no link)
    "DURABLE_LOGS_URL_TEMPLATE": "",
    # largest JSON payload (input, output, message, event) in bytes
    "DURABLE_MAX_PAYLOAD_BYTES": 8 * 1024 * 1024,
    # largest export file `durable import` reads, in bytes, checked before it is parsed
    "DURABLE_IMPORT_MAX_BYTES": 20 * 1024 * 1024,
    # largest step output in bytes, unless the step sets max_output_bytes (None: no limit
    # below DURABLE_MAX_PAYLOAD_BYTES)
    "DURABLE_MAX_STEP_OUTPUT_BYTES": None,
    # failure_group_alert fires when a group's failed runs in the window reach this count
    "DURABLE_ALERT_THRESHOLD": 10,
    # the window of that count, in seconds
    "DURABLE_ALERT_WINDOW_SECONDS": 3600.0,
    # alert rules kept in code (read-only in the dashboard): dicts with name, kind, workflow,
    # queue, tag, threshold, renotify_seconds and destinations (see docs/alerting.md)
    "DURABLE_ALERT_RULES": [],
    # how often each alert rule is evaluated (by one executor, claimed per rule)
    "DURABLE_ALERT_EVALUATE_SECONDS": 15.0,
    # attempts to reach an alert destination before giving up (backoff doubles each time)
    "DURABLE_ALERT_DELIVERY_ATTEMPTS": 5,
    # wait before the second attempt to reach an alert destination, in seconds
    "DURABLE_ALERT_RETRY_SECONDS": 5.0,
    # timeout of one HTTP request to an alert destination, in seconds
    "DURABLE_ALERT_TIMEOUT_SECONDS": 3.0,
    # alert delivery attempts (sent or failed) older than this are pruned hourly ("" keeps all)
    "DURABLE_ALERT_DELIVERY_RETENTION": "30d",
    # PagerDuty Events v2 endpoint
    "DURABLE_ALERT_PAGERDUTY_URL": "https://events.pagerduty.com/v2/enqueue",
    # the site's address as on-call opens it, e.g. "https://ops.example.com": alert messages
    # link to their incident's dashboard page there ("": no link)
    "DURABLE_SITE_URL": "",
    # Celery queue that carries run messages
    "DURABLE_CELERY_QUEUE": "durable",
    # how often Celery workers sweep (recoveries, lost messages, wake-ups, schedules)
    "DURABLE_SWEEP_SECONDS": 1.0,
    # whether every Celery worker sweeps (else run `manage.py durable sweeper` or beat)
    "DURABLE_WORKER_SWEEPS": True,
    # an ENQUEUED run unclaimed this long while its queue is idle is dispatched again
    "DURABLE_REDISPATCH_SECONDS": 60.0,
    # the dashboard nav's "Back to site" link, e.g. "/" ("": none; hidden at the dashboard's root)
    "DURABLE_HOST_HOME_URL": "",
    # how long a live executor retries a lost database connection before giving its runs up
    "DURABLE_DB_RETRY_SECONDS": 60.0,
    # reruns of a @durable.transaction rolled back by a serialization failure or deadlock
    # (SQLSTATE 40001, 40P01), beyond and apart from the step's own `retries`
    "DURABLE_TRANSACTION_CONFLICT_RETRIES": 5,
    # on shutdown, how long runs in flight get to reach a step boundary before release
    "DURABLE_SHUTDOWN_GRACE_SECONDS": 25.0,
    # how long a cancel waits for the executors of its running runs to confirm they stopped,
    # and a resume for the steps in flight at a cancel to return
    "DURABLE_CANCEL_CONFIRM_SECONDS": 5.0,
    # hung step threads (abandoned past a timeout or cancel) before an executor stops claiming
    "DURABLE_MAX_ABANDONED_THREADS": 16,
    # /health's own connect and statement timeout: a probe answers 503 within seconds while
    # the database is down, instead of waiting out DURABLE_DB_RETRY_SECONDS
    "DURABLE_HEALTH_TIMEOUT_SECONDS": 3.0,
    # serve /metrics (needs the [metrics] extra); off unless the host opts in
    "DURABLE_METRICS_ENABLED": False,
    # /metrics requires "Authorization: Bearer <token>"; with none set it answers 403
    # unless DEBUG is on (development scrapes without one)
    "DURABLE_METRICS_TOKEN": "",
    # most values of one label (workflows, queues, steps) /metrics reports; the rest are
    # summed under "other", so imported or generated names cannot grow the scrape unbounded
    "DURABLE_METRICS_MAX_LABEL_VALUES": 200,
    # step duration and checkpoint size histograms cover steps finished this recently
    "DURABLE_METRICS_WINDOW_SECONDS": 300.0,
    # shortest spacing between a stored schedule's ticks (a per-second cron is refused at
    # create and update; a workflow that loops with durable.sleep serves faster cadences)
    "DURABLE_SCHEDULE_MIN_INTERVAL_SECONDS": 60.0,
    # link from a run to the team's trace UI, e.g. "https://tempo.example/trace/{trace_id}"
    "DURABLE_TRACE_URL_TEMPLATE": "",
    # a Django database alias (a streaming replica) the dashboard's pages, /metrics and the
    # read API read from, through durable.routers.ReadReplicaRouter ("": the primary; every
    # action and the engine always use the primary; docs/replica.md)
    "DURABLE_READ_DATABASE": "",
    # pages say "data as of N s ago" when the replica lags the primary by more than this
    "DURABLE_READ_LAG_NOTICE_SECONDS": 2.0,
    # module whose `start()` the demo command runs (this repository's demo only)
    "DURABLE_DEMO_WORKLOAD": "",
}


class DurableSettings:
    """Django's settings with Durable's defaults behind them, each cached once read."""

    generation = 0  # counts changes: a value read across one is not cached
    _caching = threading.Lock()  # a change cannot fall between that check and the store

    def __getattr__(self, name: str) -> Any:
        generation = DurableSettings.generation
        if hasattr(django_settings, name):
            value = getattr(django_settings, name)
        elif name in DEFAULTS:
            value = DEFAULTS[name]
        else:
            raise AttributeError(f"setting {name} is not defined and has no Durable default")
        with DurableSettings._caching:
            if generation == DurableSettings.generation:  # no change since: cache it
                self.__dict__[name] = value  # later reads are a plain attribute
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        """Writes go to Django's settings (scripts that configure themselves, e.g. bench)."""
        setattr(django_settings, name, value)
        self.forget()

    def forget(self) -> None:
        """Read every setting afresh (a setting changed)."""
        with DurableSettings._caching:
            DurableSettings.generation += 1
            self.__dict__.clear()


settings = DurableSettings()


def _setting_changed(**kwargs: Any) -> None:
    settings.forget()


setting_changed.connect(_setting_changed, dispatch_uid="durable.core.conf")
