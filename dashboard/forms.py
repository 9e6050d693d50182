"""Forms parse every request parameter; views never read request.GET or POST directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from dashboard import json_text
from dashboard.queries.runs import MIN_SEARCH_CHARS, RunFilter, searchable
from durable import operations
from durable.errors import InvalidRunIdError
from durable.models import RunStatus
from durable.operations import MAX_TIMEOUT_SECONDS, validate_new_run_id, validate_run_id

WINDOWS = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
WINDOW_CHOICES = [(key, f"last {key}") for key in WINDOWS]


class UtcDateTimeField(forms.DateTimeField):
    """A date and time in UTC: offsets PostgreSQL would refuse (+23:59) and dates that
    overflow when moved to UTC are a form error, not a database error."""

    def to_python(self, value: Any) -> datetime | None:
        result = super().to_python(value)
        if result is None:
            return None
        try:
            if timezone.is_naive(result):
                result = timezone.make_aware(result, UTC)
            return result.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError("Enter a date between the years 1 and 9999.") from exc


class RunFilterForm(forms.Form):
    """The runs list filter; the same fields select the runs of an "all matching" bulk action."""

    status = forms.ChoiceField(choices=[("", "any status"), *RunStatus.choices], required=False)
    workflow = forms.CharField(required=False, max_length=300)
    version = forms.CharField(required=False, max_length=100)
    queue = forms.CharField(required=False, max_length=200)
    error_type = forms.CharField(required=False, max_length=300)
    fingerprint = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    tag = forms.CharField(
        required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "key=value"})
    )
    since = UtcDateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = UtcDateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    window = forms.ChoiceField(choices=[("", "any time"), *WINDOW_CHOICES], required=False)
    q = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.SearchInput(attrs={"placeholder": "run id, or 3+ characters of input"}),
    )
    logs = forms.CharField(
        required=False,
        max_length=200,
        min_length=MIN_SEARCH_CHARS,
        widget=forms.SearchInput(attrs={"placeholder": "3+ characters of a log line"}),
        error_messages={"min_length": "Type 3 or more characters to search step logs."},
    )

    sort = forms.ChoiceField(
        choices=[("", "newest first"), ("oldest", "oldest first")], required=False
    )
    delayed = forms.BooleanField(required=False)  # delayed starts not yet due

    def clean_logs(self) -> str:
        text = self.cleaned_data["logs"]
        if text and not searchable(text.strip()):
            raise forms.ValidationError(
                "Type a word of 3 or more letters or digits to search step logs: "
                "punctuation alone gives the log index nothing to look up."
            )
        return text

    def clean_tag(self) -> str:
        tag = self.cleaned_data["tag"].strip()
        if tag and "=" not in tag:
            raise forms.ValidationError("Write a tag as key=value, e.g. customer=acme.")
        return tag

    def run_filter(self) -> RunFilter:
        """The filter for a valid form; an invalid one filters on its valid fields only."""
        data: dict[str, Any] = getattr(self, "cleaned_data", {}) or {}
        key, _, value = (data.get("tag") or "").partition("=")
        since = data.get("since")
        if data.get("window"):
            since = timezone.now() - WINDOWS[data["window"]]
        return RunFilter(
            status=data.get("status") or "",
            workflow=data.get("workflow") or "",
            version=data.get("version") or "",
            queue=data.get("queue") or "",
            error_type=data.get("error_type") or "",
            fingerprint=data.get("fingerprint") or "",
            tag_key=key.strip(),
            tag_value=value.strip(),
            since=since,
            until=data.get("until"),
            q=(data.get("q") or "").strip(),
            logs=(data.get("logs") or "").strip(),
            oldest_first=data.get("sort") == "oldest",
            delayed=bool(data.get("delayed")),
        )

    def is_filtered(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return any(value for name, value in data.items() if name not in ("status", "sort"))


def _json_object(text: str) -> dict[str, Any]:
    value = json_text.parse(text, "The input", finite_only=False)  # the engine refuses NaN
    if not isinstance(value, dict) or set(value) - {"args", "kwargs"}:
        raise forms.ValidationError('Write an object like {"args": [...], "kwargs": {...}}.')
    if not isinstance(value.get("args", []), list):
        raise forms.ValidationError('"args" must be a list.')
    if not isinstance(value.get("kwargs", {}), dict):
        raise forms.ValidationError('"kwargs" must be an object.')
    return value


def _run_id(value: str) -> str:
    try:
        return validate_run_id(value)
    except InvalidRunIdError as exc:
        raise forms.ValidationError(str(exc)) from exc


def _new_run_id(value: str) -> str:
    try:
        return validate_new_run_id(value)
    except InvalidRunIdError as exc:
        raise forms.ValidationError(str(exc)) from exc


def _printable(value: str) -> str:
    if not value.isprintable():
        raise forms.ValidationError("The queue name must not contain control characters.")
    return value


class RunIdField(forms.CharField):
    """An existing run's id, checked by the engine's rules (no newline, NUL, dot segment)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=200, strip=False, validators=[_run_id], **kwargs)


class RunActionForm(forms.Form):
    """Resume, restart, cancel or delete one run; `seen` is when the operator loaded the page."""

    run_id = RunIdField()
    reason = forms.CharField(required=False, max_length=500)
    seen = UtcDateTimeField(required=False)


class NewRunFields(forms.Form):
    """What a restart or fork may choose for its new run; empty keeps the original's."""

    new_run_id = forms.CharField(required=False, max_length=200, validators=[_new_run_id])
    queue = forms.CharField(required=False, max_length=200, validators=[_printable])
    timeout = forms.FloatField(required=False, min_value=0.001, max_value=MAX_TIMEOUT_SECONDS)
    # jump the queue: the highest priority, so claims take it before the backlog
    run_first = forms.BooleanField(required=False)

    def new_run(self) -> dict[str, Any]:
        """operations.restart/fork keywords (None where the operator left a field empty)."""
        data = self.cleaned_data
        return {
            "new_run_id": data.get("new_run_id") or None,
            "queue": data.get("queue") or None,
            "timeout": data.get("timeout"),
            "priority": operations.RUN_FIRST if data.get("run_first") else None,
        }


class MoveForm(RunActionForm):
    """Move one waiting run to another queue."""

    queue = forms.CharField(max_length=200, validators=[_printable])


class RestartForm(RunActionForm, NewRunFields):
    """Restart one run, optionally onto a chosen run id, queue or timeout."""


class ScheduleActionForm(forms.Form):
    """Pause, resume or trigger one cron schedule; `seen` is when the page was loaded."""

    name = forms.CharField(max_length=300, strip=False)
    reason = forms.CharField(required=False, max_length=500)
    seen = UtcDateTimeField(required=False)


class ForkForm(NewRunFields):
    """Fork one run from a step, with the run's input as recorded or as edited."""

    run_id = RunIdField()
    from_step = forms.IntegerField(min_value=0, max_value=2**31 - 1)
    input = forms.CharField(required=False, widget=forms.Textarea)
    reason = forms.CharField(required=False, max_length=500)
    seen = UtcDateTimeField(required=False)

    def clean_input(self) -> dict[str, Any] | None:
        text = self.cleaned_data["input"].strip()
        return _json_object(text) if text else None

    def edited(self) -> tuple[list | None, dict | None]:
        value = self.cleaned_data["input"]
        if value is None:
            return None, None
        return value.get("args"), value.get("kwargs")


BULK_ACTIONS = [("cancel", "Cancel"), ("resume", "Resume"), ("hold", "Hold"),
                ("release", "Release"), ("restart", "Restart"), ("fork", "Fork")]  # fmt: skip


class BulkForm(forms.Form):
    """Which action, on which runs: the ticked rows, or every run matching the filter."""

    action = forms.ChoiceField(choices=BULK_ACTIONS)
    scope = forms.ChoiceField(choices=[("selected", "selected"), ("matching", "matching")])
    run_ids = forms.MultipleChoiceField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["run_ids"].choices = [(value, value) for value in self._raw_ids()]

    def _raw_ids(self) -> list[str]:
        if self.data is None or not hasattr(self.data, "getlist"):
            return []
        return [value[:200] for value in self.data.getlist("run_ids")[:1000]]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("scope") == "selected" and not data.get("run_ids"):
            raise forms.ValidationError("Tick at least one run, or choose all matching runs.")
        return data


def filter_params(run_filter: RunFilter) -> dict[str, str]:
    """The filter as RunFilterForm fields with absolute times, for links and hidden inputs."""
    tag = f"{run_filter.tag_key}={run_filter.tag_value}" if run_filter.tag_key else ""
    params = {
        "status": run_filter.status,
        "workflow": run_filter.workflow,
        "version": run_filter.version,
        "queue": run_filter.queue,
        "error_type": run_filter.error_type,
        "fingerprint": run_filter.fingerprint,
        "tag": tag,
        "q": run_filter.q,
        "logs": run_filter.logs,
        "since": run_filter.since.isoformat() if run_filter.since else "",
        "until": run_filter.until.isoformat() if run_filter.until else "",
        "delayed": "1" if run_filter.delayed else "",
    }
    return {name: value for name, value in params.items() if value}


class BulkStartForm(BulkForm):
    """The preview's confirmation: starts (or, sent again, continues) one bulk job."""

    token = forms.UUIDField(required=False)
    as_of = UtcDateTimeField()
    # required: a bulk action changes many runs, and the audit log says why
    reason = forms.CharField(max_length=500, strip=True)
    total = forms.IntegerField(min_value=0, max_value=10**9)
    include_superseded = forms.BooleanField(required=False)
    # how fast and how safely the job goes (durable.operations.start_bulk_job)
    rate = forms.FloatField(required=False, min_value=0.01, max_value=100_000)
    concurrency = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    canary = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    canary_max_failed = forms.FloatField(required=False, min_value=0, max_value=100)

    def job_options(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"rate": data.get("rate"), "concurrency": data.get("concurrency"),
                "canary": data.get("canary"),
                "canary_max_failed": data.get("canary_max_failed") or 0.0}  # fmt: skip

    def clean_as_of(self) -> datetime:
        """Never later than now: a job must not reach runs created after it started."""
        return min(self.cleaned_data["as_of"], timezone.now())


class JobControlForm(forms.Form):
    """Pause, resume or abort a bulk job."""

    job = forms.UUIDField()
    verb = forms.ChoiceField(choices=[(v, v) for v in ("pause", "resume", "abort")])
    reason = forms.CharField(required=False, max_length=500)


class QueueLimitsForm(forms.Form):
    """An operator's override of one stored queue's limits; an empty limit means none."""

    name = forms.CharField(max_length=200, strip=False)
    concurrency = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    worker_concurrency = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    rate_count = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    rate_seconds = forms.FloatField(required=False, min_value=0.001, max_value=MAX_TIMEOUT_SECONDS)
    priority = forms.BooleanField(required=False)
    reason = forms.CharField(required=False, max_length=500)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (data.get("rate_count") is None) != (data.get("rate_seconds") is None):
            raise forms.ValidationError(
                "a rate limit needs both runs and seconds (or neither, for no rate limit)"
            )
        return data

    def limits(self) -> dict[str, Any]:
        """The cleaned form as `durable.queues.set_limits` keyword arguments."""
        data = self.cleaned_data
        count, seconds = data["rate_count"], data["rate_seconds"]
        return {
            "concurrency": data["concurrency"],
            "worker_concurrency": data["worker_concurrency"],
            "rate_limit": (count, seconds) if count is not None else None,
            "priority": data["priority"],
        }


class RaiseLimitForm(forms.Form):
    """Raise one limit of a queue (the health page's and a waiting run's fix); `run_id`:
    the run page to return to (else the health page)."""

    name = forms.CharField(max_length=200, strip=False)
    limit = forms.ChoiceField(choices=[("concurrency", "concurrency"), ("rate_limit", "rate")])
    value = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    reason = forms.CharField(required=False, max_length=500)
    run_id = forms.CharField(required=False, max_length=200)


class QueueResetForm(forms.Form):
    name = forms.CharField(max_length=200, strip=False)
    reason = forms.CharField(required=False, max_length=500)


class ExecutorActionForm(forms.Form):
    """Drain or undrain one executor; `release_after`: seconds its runs in flight get."""

    executor_id = forms.CharField(max_length=200)
    reason = forms.CharField(required=False, max_length=500)
    release_after = forms.FloatField(required=False, min_value=0.1, max_value=7 * 24 * 3600)
