"""The alert Rules page: list, one rule (its incidents and delivery log), create, edit,
delete, "Send a test". Viewers see rules; operators (`operate_runs`) change them. Rules
declared in DURABLE_ALERT_RULES are read-only here. Secrets are only ever shown masked.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods

from dashboard.alert_forms import SECRET_FIELDS, AlertRuleForm
from dashboard.permissions import operator_page, operator_required, viewer_required
from dashboard.views.common import render_page
from durable.errors import DurableError
from durable.models import AlertIncident, AlertKind, AlertRule, AlertSource
from durable.observability import alerting

PREFILL = ("name", "kind", "workflow", "queue", "tag", "threshold")


@viewer_required
def rules(request: HttpRequest) -> HttpResponse:
    alerting.sync_declared()  # settings rules show before an executor has run
    rows = [
        {"rule": rule, "destinations": alerting.masked_destinations(rule)}
        for rule in AlertRule.objects.all()
    ]
    return render_page(request, "dashboard/alerts.html", {"rows": rows})


@viewer_required
def rule_detail(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(AlertRule, id=rule_id)
    context = {
        "rule": rule,
        "kind_label": AlertKind(rule.kind).label,
        "read_only": rule.source == AlertSource.SETTINGS,
        "destinations": alerting.masked_destinations(rule),
        "incidents": rule.incidents.order_by("-opened_at")[:50],
        "deliveries": rule.deliveries.order_by("-created_at", "-id")[:100],
    }
    return render_page(request, "dashboard/alert_rule.html", context)


@viewer_required
def incident(request: HttpRequest, incident_id: int) -> HttpResponse:
    """One incident: what held, what was sent, and for a failure group its triage."""
    found = get_object_or_404(AlertIncident.objects.select_related("rule"), id=incident_id)
    group = alerting.triage.group_of(found.key)
    names = ("workflow", "step", "error_type", "fingerprint")
    context = {
        "incident": found,
        "group": dict(zip(names, group, strict=True)) if group else None,
        "triage": alerting.triage.get(group) if group else None,
        "deliveries": found.deliveries.order_by("-created_at", "-id")[:100],
    }
    return render_page(request, "dashboard/alert_incident.html", context)


@operator_page
@require_http_methods(["GET", "POST"])
def rule_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request, AlertRuleForm(request.POST), None)
    initial = {key: request.GET[key][:300] for key in PREFILL if request.GET.get(key)}
    if initial.get("kind") not in AlertKind.values:
        initial.pop("kind", None)
    return _form_page(request, AlertRuleForm(initial=initial), None)


@operator_page
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(AlertRule, id=rule_id)
    if rule.source == AlertSource.SETTINGS:
        messages.error(request, "This rule is declared in DURABLE_ALERT_RULES: edit it there.")
        return redirect("dashboard:alert_rule", rule_id=rule.id)
    if request.method == "POST":
        return _save(request, AlertRuleForm(request.POST, rule=rule), rule)
    initial = {name: getattr(rule, name) for name in (*PREFILL, "enabled", "renotify_seconds")}
    emails = [d for d in rule.destinations if d.get("kind") == "email"]
    initial["email_to"] = ", ".join(emails[0]["to"]) if emails else ""
    return _form_page(request, AlertRuleForm(initial=initial, rule=rule), rule)


def _form_page(request: HttpRequest, form: AlertRuleForm, rule: AlertRule | None) -> HttpResponse:
    stored = {d.get("kind"): d for d in (alerting.masked_destinations(rule) if rule else [])}
    secrets = [
        (form[field], stored.get(kind, {}).get(key, ""))
        for field, (kind, key) in SECRET_FIELDS.items()
    ]
    context = {"form": form, "rule": rule, "secrets": secrets}
    return render_page(request, "dashboard/alert_form.html", context)


def _save(request: HttpRequest, form: AlertRuleForm, rule: AlertRule | None) -> HttpResponse:
    if not form.is_valid():
        return _form_page(request, form, rule)
    try:
        saved = alerting.save_rule(rule, form.values(), actor=request.user.get_username())
    except DurableError as exc:
        form.add_error(None, str(exc))
        return _form_page(request, form, rule)
    messages.success(request, format_html("Alert rule {} saved.", saved.name))
    return redirect("dashboard:alert_rule", rule_id=saved.id)


@operator_required
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(AlertRule, id=rule_id)
    try:
        alerting.delete_rule(rule, actor=request.user.get_username())
    except DurableError as exc:
        messages.error(request, format_html("Not deleted: {}", str(exc)))
        return redirect("dashboard:alert_rule", rule_id=rule.id)
    messages.success(request, format_html("Alert rule {} deleted.", rule.name))
    return redirect("dashboard:alerts")


@operator_required
def rule_test(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(AlertRule, id=rule_id)
    outcomes = alerting.send_test(rule, actor=request.user.get_username())
    if not outcomes:
        messages.error(request, "This rule has no destination to test.")
    else:
        messages.info(request, format_html("Test sent: {}", "; ".join(outcomes)))
    return redirect("dashboard:alert_rule", rule_id=rule.id)
