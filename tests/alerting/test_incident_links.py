"""With DURABLE_SITE_URL set (the address on-call opens the site at), every message links to
its incident's page in the dashboard: the webhook's `link`, Slack's "open", PagerDuty's
`links`. Without it no message carries a link (an address the server guessed from its own
host name would not open from a phone)."""

from __future__ import annotations

from django.urls import reverse

from durable.models import AlertIncident
from tests.alerting.conftest import evaluate_now, fail_run, rule


def test_every_destination_links_to_the_incident_page(db, receiver, settings):
    settings.DURABLE_SITE_URL = "https://ops.example.com/"
    settings.DURABLE_ALERT_PAGERDUTY_URL = receiver.url("/v2/enqueue")
    rule(destinations=[
        {"kind": "webhook", "url": receiver.url("/hook")},
        {"kind": "slack", "url": receiver.url("/slack")},
        {"kind": "pagerduty", "routing_key": "R0UTINGKEY0123456789abcdef012345"},
    ])  # fmt: skip
    fail_run()
    evaluate_now()
    incident = AlertIncident.objects.get()
    page = "https://ops.example.com" + reverse("dashboard:alert_incident", args=[incident.id])
    assert receiver.bodies("/hook")[0]["link"] == page
    assert f"<{page}|open>" in receiver.bodies("/slack")[0]["text"]
    assert receiver.bodies("/v2/enqueue")[0]["links"][0]["href"] == page


def test_without_the_site_url_no_message_carries_a_link(db, receiver, settings):
    settings.DURABLE_SITE_URL = ""
    rule(destinations=[{"kind": "webhook", "url": receiver.url("/hook")}])
    fail_run()
    evaluate_now()
    assert receiver.bodies("/hook")[0]["link"] == ""
