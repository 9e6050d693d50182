"""Django admin for durable's tables, with the dashboard's operations as admin actions.

Actions call `durable.operations` (audited as the admin user) and need `operate_runs`.
Counting a million rows for the changelist is skipped (`show_full_result_count`).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

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


def _ids(queryset: QuerySet[Run]) -> list[str]:
    return list(queryset.values_list("id", flat=True))


@admin.action(
    description="Resume selected runs from their last checkpoint", permissions=["operate"]
)
def resume_runs(modeladmin, request, queryset):
    with operations.acting_as(request.user.get_username()):
        _report(modeladmin, request, "resumed", operations.resume(_ids(queryset)))


@admin.action(description="Restart selected runs as new runs", permissions=["operate"])
def restart_runs(modeladmin, request, queryset):
    with operations.acting_as(request.user.get_username()):
        _report(modeladmin, request, "restarted", operations.restart(_ids(queryset)))


@admin.action(description="Cancel selected runs", permissions=["operate"])
def cancel_runs(modeladmin, request, queryset):
    reason = f"cancelled by {request.user.get_username()} from the admin"
    with operations.acting_as(request.user.get_username()):
        _report(modeladmin, request, "cancelled", operations.cancel(_ids(queryset), reason=reason))


@admin.action(
    description="Fork selected runs from their first failed step", permissions=["operate"]
)
def fork_runs(modeladmin, request, queryset):
    with operations.acting_as(request.user.get_username()):
        _report(modeladmin, request, "forked", operations.fork(_ids(queryset)))


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    can_delete = False
    fields = ("position", "name", "kind", "status", "attempts", "duration_ms", "error_type")
    readonly_fields = fields
    show_change_link = True


class KeepHistory:
    """Deleting a checkpoint would make a recorded step run again, and deleting audit rows
    would hide who did what: history leaves only through `manage.py durable prune`."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(ExactSearch, KeepHistory, OperateMixin, admin.ModelAdmin):
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
    inlines = [StepInline]
    raw_id_fields = ("parent", "forked_from")
    readonly_fields = [field.name for field in Run._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Step)
class StepAdmin(ExactSearch, KeepHistory, admin.ModelAdmin):
    list_display = (
        "run",
        "position",
        "name",
        "kind",
        "status",
        "attempts",
        "duration_ms",
        "finished_at",
    )
    list_filter = ("status", "kind")
    exact_search_fields = ("run_id",)  # the (run_id, position) key
    search_help_text = "a run id, exactly: its steps"
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_select_related = ("run",)
    raw_id_fields = ("run",)
    readonly_fields = [field.name for field in Step._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Attempt)
class AttemptAdmin(ExactSearch, KeepHistory, admin.ModelAdmin):
    list_display = ("run", "position", "attempt", "name", "error_type", "finished_at")
    exact_search_fields = ("run_id",)  # attempt_run_idx
    search_help_text = "a run id, exactly: its failed attempts"
    show_full_result_count = False
    paginator = CappedCountPaginator
    raw_id_fields = ("run",)


@admin.register(Executor)
class ExecutorAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
