"""Where alerts go: a generic JSON webhook, Slack's incoming-webhook format, PagerDuty
Events v2 and e-mail through Django's mail settings.

A destination is a dict: {"kind": "webhook"|"slack", "url": …}, {"kind": "pagerduty",
"routing_key": …} or {"kind": "email", "to": [addresses]}. URLs and routing keys are
secrets: `masked` is how they are shown, and errors never carry them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.mail import send_mail

from durable.core.conf import settings
from durable.errors import InvalidArgumentError

KINDS = ("webhook", "slack", "pagerduty", "email")
SECRET_FIELDS = ("url", "routing_key")


@dataclass(frozen=True)
class Message:
    """What one notification says, before a destination formats it."""

    event: str  # trigger, renotify, resolve or test
    rule: str
    kind: str
    dedup_key: str
    summary: str
    details: dict[str, Any]
    link: str = ""


def masked(value: str) -> str:
    """A secret as it may be shown: scheme and host of a URL, or the last 4 characters."""
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.hostname}/…{value[-4:]}"
    return f"…{value[-4:]}" if len(value) > 8 else "…"


def masked_destination(destination: dict[str, Any]) -> dict[str, Any]:
    return {
        key: masked(str(value)) if key in SECRET_FIELDS else value
        for key, value in destination.items()
    }


def check(destination: Any) -> dict[str, Any]:
    """The destination if well formed; else InvalidArgumentError saying what to fix (never
    quoting the secret)."""
    if not isinstance(destination, dict) or destination.get("kind") not in KINDS:
        raise InvalidArgumentError(
            "destination", f"an alert destination needs a kind, one of {', '.join(KINDS)}"
        )
    kind = destination["kind"]
    if kind in ("webhook", "slack"):
        scheme = urlsplit(str(destination.get("url", ""))).scheme
        if scheme not in ("http", "https"):
            raise InvalidArgumentError("destination", f"a {kind} destination needs an http(s) url")
    if kind == "pagerduty" and not str(destination.get("routing_key", "")).strip():
        raise InvalidArgumentError("destination", "a pagerduty destination needs a routing_key")
    if kind == "email" and not destination.get("to"):
        raise InvalidArgumentError(
            "destination", "an email destination needs 'to', a list of addresses"
        )
    return destination


def webhook_payload(message: Message) -> dict[str, Any]:
    return {
        "event": message.event,
        "rule": message.rule,
        "kind": message.kind,
        "dedup_key": message.dedup_key,
        "summary": message.summary,
        "details": message.details,
        "link": message.link,
    }


def slack_payload(message: Message) -> dict[str, Any]:
    icon = {"resolve": ":white_check_mark:", "test": ":test_tube:"}.get(
        message.event, ":rotating_light:"
    )
    word = {"resolve": "Resolved", "test": "Test", "renotify": "Still firing"}.get(
        message.event, "Firing"
    )
    text = f"{icon} *{word}* · {_slack_escaped(message.rule)}: {_slack_escaped(message.summary)}"
    if message.link:
        text += f" <{message.link}|open>"
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def _slack_escaped(text: str) -> str:
    """Text Slack shows as written: &, < and > would start its control sequences
    (`<!channel>` pings everyone)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pagerduty_payload(message: Message, routing_key: str) -> dict[str, Any]:
    """An Events v2 event: trigger (also for re-notifications and tests) or resolve, with the
    incident's stable dedup key, so PagerDuty folds them into one incident."""
    action = "resolve" if message.event == "resolve" else "trigger"
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": message.dedup_key,
    }
    if action == "trigger":
        event["payload"] = {
            "summary": message.summary[:1024],
            "source": "durable",
            "severity": "critical" if message.kind == "executor_lost" else "error",
            "component": str(message.details.get("workflow", "")),
            "group": message.kind,
            "custom_details": message.details,
        }
        if message.link:
            event["links"] = [{"href": message.link, "text": "Open in the Durable dashboard"}]
    return event


def payload(destination: dict[str, Any], message: Message) -> dict[str, Any]:
    """The body sent to `destination`, without its secret (kept in the delivery log)."""
    kind = destination["kind"]
    if kind == "slack":
        return slack_payload(message)
    if kind == "pagerduty":
        body = pagerduty_payload(message, "")
        body.pop("routing_key")
        return body
    if kind == "email":
        return {"subject": f"[{message.event}] {message.rule}", "body": message.summary}
    return webhook_payload(message)


class DeliveryFailed(Exception):
    """The destination did not take the message; the text is safe to store and show."""


def send(destination: dict[str, Any], body: dict[str, Any]) -> str:
    """Deliver `body` (from `payload`); returns what the destination answered, or raises
    DeliveryFailed with a message that never holds the secret."""
    kind = destination["kind"]
    if kind == "email":
        sent = send_mail(
            body["subject"], body["body"], None, list(destination["to"]), fail_silently=False
        )
        return f"e-mailed {sent} message(s)"
    if kind == "pagerduty":
        url = destination.get("url") or settings.DURABLE_ALERT_PAGERDUTY_URL
        body = {"routing_key": destination["routing_key"], **body}
    else:
        url = destination["url"]
    return _post(url, body)


def _post(url: str, body: dict[str, Any]) -> str:
    request = urllib.request.Request(
        url,
        data=json.dumps(body, default=str).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "durable-alerts"},
        method="POST",
    )
    timeout = float(settings.DURABLE_ALERT_TIMEOUT_SECONDS)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"HTTP {exc.code} from {masked(url)}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"{type(reason).__name__} reaching {masked(url)}") from None
