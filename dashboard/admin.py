"""Django admin for durable's tables, with the dashboard's operations as admin actions.

Actions call `durable.operations` (audited as the admin user) and need `operate_runs`.
Counting a million rows for the changelist is skipped (`show_full_result_count`).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html

from dashboard.charts import human_ms
from dashboard.permissions import can_operate
from durable import operations
from durable.models import Attempt, AuditEntry, Executor, Run, Step


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows, so a changelist over millions of runs stays a bounded
    scan; past the cap the admin offers COUNT_CAP / list_per_page pages (use the dashboard's
    keyset pages, or a filter, to go further)."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.COUNT_CAP].count()


class ExactSearch:
    """Search by exact values that an index serves (`exact_search_fields`), not Django's
    default `UPPER(column) LIKE '%text%'`, which reads every row of a million-row table."""

    exact_search_fields: tuple[str, ...] = ()
    search_help_text = "exact match"

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return self.exact_search_fields  # only so the admin shows its search box

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q()
        for field in self.exact_search_fields:
            condition |= Q(**{field: term})
        return queryset.filter(condition), False


class OperateMixin:
    """Grants the custom `operate` action permission to users with `operate_runs`."""

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return can_operate(request.user)


def _report(
    modeladmin: admin.ModelAdmin, request: HttpRequest, verb: str, result: operations.BulkResult
) -> None:
    modeladmin.message_user(request, f"{result.done_count} run(s) {verb}.", messages.SUCCESS)
    reasons: dict[str, int] = {}
    for reason in result.refused.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        modeladmin.message_user(request, f"{count} refused: {reason}", messages.WARNING)
    for run_id, why in list(result.unconfirmed.items())[:5]:
        modeladmin.message_user(request, f"Stop of {run_id} not confirmed: {why}", messages.WARNING)


class ReasonActionForm(ActionForm):
    """The admin's action bar with a reason field, recorded in the audit log."""

    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "reason, for the audit log", "size": 30}),
    )


def _reason(request: HttpRequest, action: str) -> str:
    reason = request.POST.get("reason", "").strip()[:500]
    return reason or f"{action} by {request.user.get_username()} from the admin"


def _ids(queryset: QuerySet[Run]) -> list[str]:
    return list(queryset.values_list("id", flat=True))


@admin.action(
    description="Resume selected runs from their last checkpoint", permissions=["operate"]
)
def resume_runs(modeladmin, request, queryset):
    with operations.acting_as(request.user.get_username()):
        result = operations.resume(_ids(queryset), reason=_reason(request, "resume"))
        _report(modeladmin, request, "resumed", result)


@admin.action(description="Restart selected runs as new runs", permissions=["operate"])
def restart_runs(modeladmin, request, queryset):
    with operations.acting_as(request.user.get_username()):
        result = operations.restart(_ids(queryset), reason=_reason(request, "restart"))
        _report(modeladmin, request, "restarted", result)


@admin.action(description="Cancel selected runs", permissions=["operate"])
def cancel_runs(modeladmin, request, queryset):
    with operations.acting_as(request.user.get_username()):
        result = operations.cancel(_ids(queryset), reason=_reason(request, "cancel"))
        _report(modeladmin, request, "cancelled", result)


@admin.action(
    description="Fork selected runs from their first failed step", permissions=["operate"]
)
def fork_runs(modeladmin, request, queryset):
    with operations.acting_as(request.user.get_username()):
        result = operations.fork(_ids(queryset), reason=_reason(request, "fork"))
        _report(modeladmin, request, "forked", result)


class KeepHistory:
    """History is read-only: editing a checkpoint or an attempt would rewrite what happened,
    deleting one would make a recorded step run again, and audit rows say who did what.
    Rows are written by the engine only and leave through `manage.py durable prune`."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadableRecord:
    """An error as its message and traceback in a <pre>, a duration in human units."""

    @admin.display(description="error")
    def readable_error(self, row) -> str:
        error = row.error or {}
        if not error:
            return "–"
        return format_html(
            "<strong>{}</strong>: {}<pre style='white-space:pre-wrap'>{}</pre>",
            error.get("type", ""),
            error.get("message", ""),
            error.get("traceback", ""),
        )

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, step: Step) -> str:
        return human_ms(step.duration_ms)


class OneRunsHistory(forms.BaseInlineFormSet):
    """A run's checkpoints, read from its one partition of the history (the run's creation
    time is the partition key): by the run's id alone, PostgreSQL plans and probes every
    daily partition kept (docs/partitioning.md)."""

    def __init__(self, *args, instance: Run | None = None, queryset=None, **kwargs) -> None:
        if instance is not None and instance.pk is not None:
            queryset = (Step.objects if queryset is None else queryset).filter(
                run_created_at=instance.created_at
            )
        super().__init__(*args, instance=instance, queryset=queryset, **kwargs)


class StepInline(KeepHistory, ReadableRecord, admin.TabularInline):
    model = Step
    formset = OneRunsHistory
    extra = 0
    fields = ("position", "name", "kind", "status", "attempts", "duration", "error_type")
    readonly_fields = fields
    show_change_link = True


@admin.register(Run)
class RunAdmin(ExactSearch, KeepHistory, ReadableRecord, OperateMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "workflow",
        "version",
        "status",
        "queue",
        "steps_done",
        "error_type",
        "created_at",
        "finished_at",
    )
    # no "queue" filter: listing its choices is a DISTINCT over every run (the dashboard
    # filters by queue instead)
    list_filter = ("status", "created_at")
    exact_search_fields = ("id", "workflow")  # run_created_idx's pk, run_workflow_created_idx
    search_help_text = "a run id or a workflow name, exactly"
    ordering = ("-created_at", "-id")
    date_hierarchy = None
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    actions = [resume_runs, restart_runs, cancel_runs, fork_runs]
    action_form = ReasonActionForm
    inlines = [StepInline]
    raw_id_fields = ("parent", "forked_from")
    readonly_fields = [f.name for f in Run._meta.fields if f.name not in ("error", "active_ms")] + [
        "active_time",
        "readable_error",
    ]
    exclude = ("error", "active_ms")

    @admin.display(description="active time", ordering="active_ms")
    def active_time(self, run: Run) -> str:
        return human_ms(run.active_ms) if run.active_ms is not None else "–"


@admin.register(Step)
class StepAdmin(ExactSearch, KeepHistory, ReadableRecord, admin.ModelAdmin):
    list_display = (
        "run",
        "position",
        "name",
        "kind",
        "status",
        "attempts",
        "duration",
        "finished_at",
    )
    list_filter = ("status", "kind")
    exact_search_fields = ("run_id",)  # the (run_id, position) key
    search_help_text = "a run id, exactly: its steps"
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_select_related = ("run",)
    raw_id_fields = ("run",)
    readonly_fields = [f.name for f in Step._meta.fields if f.name != "error"] + ["readable_error"]
    exclude = ("error",)


@admin.register(Attempt)
class AttemptAdmin(ExactSearch, KeepHistory, ReadableRecord, admin.ModelAdmin):
    list_display = ("run", "position", "attempt", "name", "error_type", "finished_at")
    exact_search_fields = ("run_id",)  # attempt_run_idx
    search_help_text = "a run id, exactly: its failed attempts"
    show_full_result_count = False
    paginator = CappedCountPaginator
    readonly_fields = [f.name for f in Attempt._meta.fields if f.name != "error"] + [
        "readable_error"
    ]
    exclude = ("error",)


@admin.register(Executor)
class ExecutorAdmin(KeepHistory, admin.ModelAdmin):
    """Executors announce themselves by heartbeat; one added by hand would serve nothing."""

    list_display = ("id", "kind", "hostname", "pid", "started_at", "last_seen_at")


@admin.register(AuditEntry)
class AuditEntryAdmin(KeepHistory, admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "run_count")
    list_filter = ("action",)
    search_fields = ("actor",)
    readonly_fields = ("actor", "action", "run_ids", "detail", "created_at")

    @admin.display(description="runs")
    def run_count(self, entry: AuditEntry) -> int:
        return len(entry.run_ids)
