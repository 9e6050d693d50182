"""Slack's mrkdwn reads `<…>` as a control sequence (`<!channel>` pings everyone, `<url|text>`
is a link) and asks senders to escape &, < and > in text that is not one
(api.slack.com/reference/surfaces/formatting#escaping). Failure messages and rule names come
from runs and operators, so what Slack receives must show them as written."""

from __future__ import annotations

from tests.alerting.conftest import evaluate_now, fail_run, rule


def test_slack_text_escapes_a_hostile_failure_message(db, receiver):
    rule(name="cards & <refunds>", destinations=[{"kind": "slack", "url": receiver.url("/slack")}])
    fail_run(message="declined <!channel> see <https://evil.example|your bank>")
    evaluate_now()
    (body,) = receiver.bodies("/slack")
    for text in (body["text"], body["blocks"][0]["text"]["text"]):
        assert "<!channel>" not in text
        assert "<https://evil.example|your bank>" not in text
        assert "&lt;!channel&gt;" in text
        assert "cards &amp; &lt;refunds&gt;" in text
