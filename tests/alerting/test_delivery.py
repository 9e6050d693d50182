"""Alert delivery, against a real HTTP receiver: once per incident, re-notify, resolve,
PagerDuty Events v2 payloads, retries with a delivery row per attempt, and muting."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from durable.models import AlertDelivery, AlertIncident, Executor, Recovery, Run
from durable.observability import alerting
from tests.alerting.conftest import evaluate_now, fail_run, rule


def webhook(receiver, path="/hook"):
    return [{"kind": "webhook", "url": receiver.url(path)}]


def test_a_new_failure_group_yields_exactly_one_webhook_per_rule(db, receiver):
    rule(destinations=webhook(receiver, "/a"))
    rule(destinations=webhook(receiver, "/b"))
    fail_run()
    evaluate_now()
    assert len(receiver.bodies("/a")) == 1
    assert len(receiver.bodies("/b")) == 1
    body = receiver.bodies("/a")[0]
    assert body["event"] == "trigger" and body["details"]["workflow"] == "shop.order"


def test_two_groups_two_webhooks_and_the_same_group_again_none_until_renotify(db, receiver):
    alert = rule(destinations=webhook(receiver), renotify_seconds=3600)
    fail_run(fingerprint="fp-one")
    fail_run(fingerprint="fp-two")
    evaluate_now()
    assert len(receiver.bodies()) == 2
    fail_run(fingerprint="fp-one")  # the same group fails again
    evaluate_now()
    evaluate_now()
    assert len(receiver.bodies()) == 2
    # the interval passes for one group: it (only) is notified again, with the same key
    incident = AlertIncident.objects.get(rule=alert, key__contains="fp-one")
    AlertIncident.objects.filter(id=incident.id).update(
        last_notified_at=timezone.now() - timedelta(hours=2)
    )
    evaluate_now()
    bodies = receiver.bodies()
    assert [b["event"] for b in bodies] == ["trigger", "trigger", "renotify"]
    assert bodies[2]["dedup_key"] == incident.dedup_key


def test_a_resolve_is_sent_when_the_group_stops_failing(db, receiver):
    rule(destinations=webhook(receiver))
    failed = fail_run()
    evaluate_now()
    Run.objects.filter(id=failed.id).update(status="SUCCESS")  # resumed, and it succeeded
    evaluate_now()
    evaluate_now()
    events = [b["event"] for b in receiver.bodies()]
    assert events == ["trigger", "resolve"]
    bodies = receiver.bodies()
    assert bodies[0]["dedup_key"] == bodies[1]["dedup_key"]


def test_a_group_resolves_once_its_runs_are_restarted_whatever_the_restart_does(db, receiver):
    """Superseded, as the Failures page counts it: the restart carries the work on."""
    rule(destinations=webhook(receiver))
    failed = fail_run()
    evaluate_now()
    Run.objects.create(
        id="restart-of-it", workflow="shop.order", status="RUNNING", forked_from=failed
    )
    evaluate_now()
    assert [b["event"] for b in receiver.bodies()] == ["trigger", "resolve"]


def _check_events_v2(event: dict, action: str) -> None:
    """The PagerDuty Events v2 shape (developer.pagerduty.com, Send an Event)."""
    assert event["routing_key"] == "R0UTINGKEY0123456789abcdef012345"
    assert event["event_action"] == action
    assert isinstance(event["dedup_key"], str) and 0 < len(event["dedup_key"]) <= 255
    if action == "trigger":
        payload = event["payload"]
        assert payload["summary"] and len(payload["summary"]) <= 1024
        assert payload["source"]
        assert payload["severity"] in ("critical", "error", "warning", "info")
    else:
        assert "payload" not in event


def test_pagerduty_gets_events_v2_trigger_and_resolve_with_a_stable_dedup_key(
    db, receiver, settings
):
    settings.DURABLE_ALERT_PAGERDUTY_URL = receiver.url("/v2/enqueue")
    key = "R0UTINGKEY0123456789abcdef012345"
    rule(destinations=[{"kind": "pagerduty", "routing_key": key}])
    failed = fail_run()
    evaluate_now()
    Run.objects.filter(id=failed.id).update(status="SUCCESS")
    evaluate_now()
    trigger, resolve = receiver.bodies("/v2/enqueue")
    _check_events_v2(trigger, "trigger")
    _check_events_v2(resolve, "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"]
    # stored payloads (the delivery log) never hold the routing key
    assert all(key not in str(d.payload) for d in AlertDelivery.objects.all())


def test_slack_gets_its_incoming_webhook_format(db, receiver):
    rule(destinations=[{"kind": "slack", "url": receiver.url("/slack")}])
    fail_run()
    evaluate_now()
    (body,) = receiver.bodies("/slack")
    assert "shop.order" in body["text"] and body["blocks"][0]["type"] == "section"


def test_a_failing_receiver_is_retried_and_the_delivery_log_says_so(db, receiver, settings):
    settings.DURABLE_ALERT_RETRY_SECONDS = 0.0
    alert = rule(destinations=webhook(receiver))
    receiver.statuses = [500]
    fail_run()
    evaluate_now()
    evaluate_now()  # the retry is due at once (no backoff in this test)
    assert len(receiver.bodies()) == 2
    log = list(alert.deliveries.order_by("attempt").values_list("attempt", "status", "response"))
    assert log[0][:2] == (1, "failed") and "HTTP 500" in log[0][2] and "retrying" in log[0][2]
    assert log[1][:2] == (2, "sent") and "HTTP 200" in log[1][2]
    # a retry keeps the incident's one notification: no second incident, no second trigger
    assert alert.incidents.count() == 1


def test_retries_back_off(db, receiver, settings):
    settings.DURABLE_ALERT_RETRY_SECONDS = 60.0
    alert = rule(destinations=webhook(receiver))
    receiver.statuses = [500]
    fail_run()
    evaluate_now()
    evaluate_now()
    assert len(receiver.bodies()) == 1  # the second attempt waits a minute
    second = alert.deliveries.get(attempt=2)
    assert second.status == "pending" and second.next_attempt_at > timezone.now()


def test_muting_until_a_version_stops_notifications_until_an_executor_of_it_appears(db, receiver):
    rule(destinations=webhook(receiver))
    failed = fail_run()
    alerting.triage.update(
        ("shop.order", "shop.charge", "shop.CardDeclined", "fp-card"),
        {"muted_until_version": "v2"},
        actor="tester",
    )
    evaluate_now()
    assert receiver.bodies() == []
    Executor.objects.create(
        id="old", kind="thread", hostname="h", pid=1, workflows=["shop.order@v1"]
    )
    evaluate_now()
    assert receiver.bodies() == []
    Executor.objects.create(
        id="new", kind="thread", hostname="h", pid=2, workflows=["shop.order@v2"]
    )
    evaluate_now()
    assert [b["event"] for b in receiver.bodies()] == ["trigger"]
    assert failed.id == receiver.bodies()[0]["details"]["sample_run"]


def test_a_muted_group_sends_nothing_until_the_mute_ends(db, receiver):
    rule(destinations=webhook(receiver))
    fail_run()
    group = ("shop.order", "shop.charge", "shop.CardDeclined", "fp-card")
    alerting.triage.update(
        group, {"muted_until": timezone.now() + timedelta(hours=1)}, actor="tester"
    )
    evaluate_now()
    assert receiver.bodies() == []
    alerting.triage.update(group, {"muted_until": None}, actor="tester")
    evaluate_now()
    assert len(receiver.bodies()) == 1


def test_two_evaluators_never_both_notify(db, receiver):
    """The rule's evaluation is claimed: a second pass right after the first finds it not due."""
    rule(destinations=webhook(receiver))
    fail_run()
    evaluate_now()
    fail_run(fingerprint="fp-other")
    assert alerting.run_duty() == 0  # claimed by the first for the next interval
    assert len(receiver.bodies()) == 1


def test_queue_wait_and_dead_runs_open_incidents_per_queue_and_workflow(db, receiver):
    rule(kind="queue_wait", threshold=30, destinations=webhook(receiver, "/q"))
    rule(kind="runs_dead", destinations=webhook(receiver, "/d"))
    Run.objects.create(
        id="waiting",
        workflow="shop.order",
        status="ENQUEUED",
        queue="emails",
        available_at=timezone.now() - timedelta(minutes=5),
    )
    Run.objects.create(id="gone", workflow="shop.order", status="DEAD")
    evaluate_now()
    (queue_body,) = receiver.bodies("/q")
    (dead_body,) = receiver.bodies("/d")
    assert queue_body["details"]["queue"] == "emails"
    assert dead_body["details"]["workflow"] == "shop.order"


def test_secrets_are_masked_and_never_logged(db, receiver, caplog):
    url = receiver.url("/secret-token-XYZ")
    receiver.statuses = [500]
    alert = rule(destinations=[{"kind": "webhook", "url": url}])
    fail_run()
    evaluate_now()
    shown = alerting.masked_destinations(alert)[0]["url"]
    assert "secret-token" not in shown and shown.endswith("-XYZ")
    assert "secret-token" not in caplog.text
    assert all("secret-token" not in d.response for d in alert.deliveries.all())


def test_a_version_nobody_serves_and_a_fully_drained_queue_are_alerted(db, receiver):
    rule(kind="unserved", destinations=webhook(receiver))
    due = timezone.now() - timedelta(minutes=1)
    Run.objects.create(id="old-code", workflow="shop.order", version="v1", available_at=due)
    Run.objects.create(id="drained", workflow="shop.mail", queue="mail", available_at=due)
    Executor.objects.create(
        id="w1", kind="thread", hostname="h", pid=1, workflows=["shop.mail@"], draining=True
    )
    evaluate_now()
    causes = sorted((b["details"]["workflow"], b["details"]["cause"]) for b in receiver.bodies())
    assert causes == [("shop.mail", "drained"), ("shop.order", "unserved")]
    Executor.objects.filter(id="w1").update(draining=False)
    evaluate_now()
    events = [(b["event"], b["details"]["workflow"]) for b in receiver.bodies()[2:]]
    assert events == [("resolve", "shop.mail")]


def test_email_goes_through_djangos_mail_settings(db, mailoutbox):
    alert = rule(destinations=[{"kind": "email", "to": ["oncall@example.com"]}])
    fail_run()
    evaluate_now()
    (mail,) = mailoutbox
    assert mail.to == ["oncall@example.com"] and alert.name in mail.subject
    assert "shop.CardDeclined" in mail.body


def test_an_attempt_left_sending_by_a_dead_executor_is_sent_again(db, receiver):
    alert = rule(destinations=webhook(receiver))
    fail_run()
    evaluate_now()
    delivery = alert.deliveries.get()
    # as if its sender died mid-send ten minutes ago
    AlertDelivery.objects.filter(id=delivery.id).update(
        status="sending", next_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    evaluate_now()
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(receiver.bodies()) == 2


def test_an_executor_declared_dead_is_alerted_and_a_clean_shutdown_is_not(db, receiver):
    rule(kind="executor_lost", destinations=webhook(receiver))
    Executor.objects.create(
        id="gone-quietly", kind="thread", hostname="h", pid=3,
        last_seen_at=timezone.now() - timedelta(minutes=5),
    )  # fmt: skip
    taken = Run.objects.create(id="taken", workflow="shop.order", status="ENQUEUED")
    Recovery.objects.create(
        run=taken, executor_id="crashed", hostname="h", pid=4, outcome="ENQUEUED"
    )
    evaluate_now()
    (body,) = receiver.bodies()
    assert body["details"]["executor"] == "crashed" and body["details"]["runs_recovered"] == 1
    Recovery.objects.update(owner_alive_at=timezone.now())  # it was alive after all
    evaluate_now()
    assert [b["event"] for b in receiver.bodies()] == ["trigger", "resolve"]


def test_disabling_or_deleting_a_rule_resolves_what_it_opened(db, receiver):
    first = rule(destinations=webhook(receiver, "/first"))
    second = rule(destinations=webhook(receiver, "/second"))
    fail_run()
    evaluate_now()
    alerting.save_rule(first, {"enabled": False}, actor="tester")
    evaluate_now()  # the duty sends the queued resolve; the disabled rule is not evaluated
    assert [b["event"] for b in receiver.bodies("/first")] == ["trigger", "resolve"]
    alerting.delete_rule(second, actor="tester")  # its log goes with it: resolved at once
    assert [b["event"] for b in receiver.bodies("/second")] == ["trigger", "resolve"]
