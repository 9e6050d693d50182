"""Bulk jobs: the Jobs page, one job's live progress, and pause / resume / abort."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from dashboard import bulk
from dashboard.forms import JobControlForm
from dashboard.permissions import operator_required, viewer_required
from dashboard.views.common import bad_request, render_page
from durable import operations
from durable.errors import DurableError
from durable.models import BulkJob

CONTROLS = {
    "pause": operations.pause_job,
    "resume": operations.resume_job,
    "abort": operations.abort_job,
}


@viewer_required
def jobs_list(request: HttpRequest) -> HttpResponse:
    jobs = operations.list_jobs(100)
    context = {"jobs": jobs, "live": any(not job.finished for job in jobs), "section": "jobs"}
    return render_page(request, "dashboard/jobs.html", context, partial="list")


@viewer_required
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    try:
        job = operations.get_job(job_id)
    except DurableError as exc:
        page = render_page(request, "dashboard/job.html", {"missing": str(exc)})
        page.status_code = 404  # as any page of something that is not there
        return page
    return render_job(request, job)


def render_job(request: HttpRequest, job: BulkJob) -> HttpResponse:
    """The job's page, or only its progress panel when htmx polls it."""
    context = {"job": job, "past": bulk.PAST.get(job.action, job.action), "section": "jobs"}
    return render_page(request, "dashboard/job.html", context, partial="progress")


@operator_required
def control(request: HttpRequest) -> HttpResponse:
    form = JobControlForm(request.POST)
    if not form.is_valid():
        return bad_request("job must be a bulk job's id and verb one of pause, resume, abort.")
    data = form.cleaned_data
    try:
        job = CONTROLS[data["verb"]](
            str(data["job"]), actor=request.user.get_username(), reason=data["reason"]
        )
    except DurableError as exc:
        return bad_request(str(exc))
    return render_job(request, job)
