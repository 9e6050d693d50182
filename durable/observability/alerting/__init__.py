"""Alerting: rules that watch failure groups, DEAD runs, queue waits, unserved versions and
lost executors, and tell a webhook, Slack, PagerDuty or e-mail — once per incident, again
after a set interval, and when it clears. Plus the triage of failure groups.

`run_duty` is what executors run on their timed duties (see `durable.apps`), and, hourly,
`prune_deliveries` (DURABLE_ALERT_DELIVERY_RETENTION). The dashboard
edits rules and triage through `save_rule`, `delete_rule`, `send_test` and `triage`.
"""

from __future__ import annotations

from durable.observability.alerting import _triage as triage
from durable.observability.alerting._delivery import prune_finished as prune_deliveries
from durable.observability.alerting._destinations import masked, masked_destination
from durable.observability.alerting._evaluate import evaluate, run_duty
from durable.observability.alerting._rules import (
    ReadOnlyRuleError,
    delete_rule,
    masked_destinations,
    save_rule,
    send_test,
    sync_declared,
)

__all__ = [
    "ReadOnlyRuleError",
    "delete_rule",
    "evaluate",
    "masked",
    "masked_destination",
    "masked_destinations",
    "prune_deliveries",
    "run_duty",
    "save_rule",
    "send_test",
    "sync_declared",
    "triage",
]
