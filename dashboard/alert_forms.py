"""Forms of the alert Rules page and of failure-group triage.

Secrets are write-only: a destination's field starts empty (its masked value is shown
beside it), an empty field keeps what is stored, and "-" removes the destination.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import validate_email

from dashboard.forms import UtcDateTimeField
from durable.models import AlertKind, AlertRule
from durable.observability import alerting

REMOVE = "-"

SECRET_FIELDS = {  # form field → (destination kind, key in the destination)
    "webhook_url": ("webhook", "url"),
    "slack_url": ("slack", "url"),
    "pagerduty_routing_key": ("pagerduty", "routing_key"),
}


class AlertRuleForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=AlertKind.choices)
    enabled = forms.BooleanField(required=False, initial=True)
    workflow = forms.CharField(max_length=300, required=False)
    queue = forms.CharField(max_length=200, required=False)
    tag = forms.CharField(max_length=300, required=False, help_text="key=value")
    threshold = forms.FloatField(
        min_value=0, max_value=10**9, required=False, initial=0,
        help_text="failures per minute (growing group) or seconds (queue wait, unserved)",
    )  # fmt: skip
    renotify_seconds = forms.IntegerField(min_value=60, max_value=10**8, initial=3600)
    # secrets: never rendered back, not even after a form error
    webhook_url = forms.URLField(
        max_length=1000, required=False, assume_scheme="https", widget=forms.PasswordInput
    )
    slack_url = forms.URLField(
        max_length=1000, required=False, assume_scheme="https", widget=forms.PasswordInput
    )
    pagerduty_routing_key = forms.CharField(
        max_length=200, required=False, widget=forms.PasswordInput
    )
    email_to = forms.CharField(max_length=1000, required=False, help_text="comma-separated")

    def __init__(self, *args: Any, rule: AlertRule | None = None, **kwargs: Any) -> None:
        self.rule = rule
        super().__init__(*args, **kwargs)

    def clean_tag(self) -> str:
        tag = self.cleaned_data["tag"].strip()
        if tag and "=" not in tag:
            raise forms.ValidationError("Write the tag as key=value.")
        return tag

    def clean_email_to(self) -> list[str]:
        addresses = [a.strip() for a in self.cleaned_data["email_to"].split(",") if a.strip()]
        for address in addresses:
            validate_email(address)
        return addresses

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = AlertRule.objects.filter(name=name)
        if self.rule is not None:
            taken = taken.exclude(id=self.rule.id)
        if taken.exists():
            raise forms.ValidationError("Another rule has this name.")
        return name

    def full_clean(self) -> None:
        """A removal ("-") is not a URL: take it out before the URL fields check."""
        if self.is_bound:
            data = self.data.copy()
            self.removed = {f for f in SECRET_FIELDS if data.get(f, "").strip() == REMOVE}
            for field in self.removed:
                data[field] = ""
            self.data = data
        super().full_clean()

    def values(self) -> dict[str, Any]:
        """The rule's fields and destinations; unchanged secrets kept from the stored rule."""
        data = self.cleaned_data
        stored = {d.get("kind"): d for d in (self.rule.destinations if self.rule else [])}
        destinations = []
        for field, (kind, key) in SECRET_FIELDS.items():
            if field in self.removed:
                continue
            if data[field]:
                destinations.append({"kind": kind, key: data[field]})
            elif kind in stored:
                destinations.append(stored[kind])
        if data["email_to"]:  # addresses are not secrets: the form shows them in full
            destinations.append({"kind": "email", "to": data["email_to"]})
        fields = ("name", "kind", "enabled", "workflow", "queue", "tag", "renotify_seconds")
        values = {name: data[name] for name in fields}
        values["threshold"] = data["threshold"] or 0
        values["destinations"] = destinations
        return values


class GroupForm(forms.Form):
    """Which failure group (as the Failures page groups them)."""

    workflow = forms.CharField(max_length=300)
    step = forms.CharField(max_length=300)
    error_type = forms.CharField(max_length=300)
    fingerprint = forms.CharField(max_length=64)

    def group(self) -> tuple[str, str, str, str]:
        data = self.cleaned_data
        return data["workflow"], data["step"], data["error_type"], data["fingerprint"]


class TriageForm(GroupForm):
    owner = forms.CharField(max_length=150, required=False)
    acknowledged = forms.BooleanField(required=False)
    muted_until = UtcDateTimeField(required=False)
    muted_until_version = forms.CharField(max_length=100, required=False)
    ticket_url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    notes = forms.CharField(max_length=5000, required=False)
    incident = forms.IntegerField(required=False, min_value=1, max_value=2**62)  # come back to

    def clean_owner(self) -> str:
        owner = self.cleaned_data["owner"].strip()
        if owner and not get_user_model().objects.filter(username=owner).exists():
            raise forms.ValidationError(f"No user {owner!r}: the owner is a dashboard user.")
        return owner

    def changes(self) -> dict[str, Any]:
        changes = {name: self.cleaned_data[name] for name in alerting.triage.TRIAGE_FIELDS}
        changes["muted_until_version"] = changes["muted_until_version"].strip()
        return changes


class TriageFilterForm(forms.Form):
    triage = forms.ChoiceField(
        choices=[("", "all"), ("unowned", "unowned"), ("mine", "mine"), ("muted", "muted")],
        required=False,
    )
