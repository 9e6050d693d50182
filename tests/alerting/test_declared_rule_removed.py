"""docs/alerting.md: "deleting one sends them at once, so no PagerDuty incident is left open
by a rule that no longer exists". A rule declared in DURABLE_ALERT_RULES is deleted when
it leaves the settings (or is renamed there): the same promise holds for it."""

from __future__ import annotations

from durable.observability import alerting
from tests.alerting.conftest import evaluate_now, fail_run


def test_a_rule_taken_out_of_the_settings_resolves_what_it_opened(db, receiver, settings):
    settings.DURABLE_ALERT_RULES = [
        {
            "name": "payments: new failures",
            "kind": "new_failure_group",
            "destinations": [{"kind": "webhook", "url": receiver.url()}],
        }
    ]
    alerting.sync_declared()  # the row exists before the pass (as after an executor's first)
    fail_run()
    evaluate_now()
    assert [b["event"] for b in receiver.bodies()] == ["trigger"]
    settings.DURABLE_ALERT_RULES = []  # the next deploy drops (or renames) the rule
    evaluate_now()
    events = [b["event"] for b in receiver.bodies()]
    assert events == ["trigger", "resolve"]
    assert receiver.bodies()[1]["dedup_key"] == receiver.bodies()[0]["dedup_key"]


def test_a_declared_rule_skipped_as_invalid_keeps_its_row_and_open_incidents(
    db, receiver, settings
):
    """A typo in a deploy's rule (or a destination's missing secret) is logged and skipped;
    it is still declared, so nothing it opened is resolved while it still fires."""
    rule_spec = {
        "name": "payments: new failures",
        "kind": "new_failure_group",
        "destinations": [{"kind": "webhook", "url": receiver.url()}],
    }
    settings.DURABLE_ALERT_RULES = [rule_spec]
    alerting.sync_declared()
    fail_run()
    evaluate_now()
    settings.DURABLE_ALERT_RULES = [{**rule_spec, "kind": "new_failure_groop"}]  # a typo
    evaluate_now()
    assert [b["event"] for b in receiver.bodies()] == ["trigger"]
