"""Dashboard URLs. Pages are GET; every action is a POST under actions/."""

from django.urls import path, re_path

from dashboard.api import api
from dashboard.views import (
    actions,
    activity,
    alerts,
    api_docs,
    assets,
    bulk,
    debug,
    executors,
    hotspots,
    jobs,
    latency,
    queues,
    run_detail,
    runs,
    schedules,
    stacks,
    system,
    tokens,
)

app_name = "dashboard"

urlpatterns = [
    path("", runs.runs_list, name="runs"),
    path("api/docs", api_docs.docs, name="api_docs"),
    path("api/", api.urls),
    re_path(r"^api/(?P<rest>[\s\S]*)\Z", api_docs.api_not_found),  # any other api/ path
    path("assets/swagger/<str:version>/<str:name>", api_docs.swagger_asset, name="swagger_asset"),
    path("tokens/", tokens.tokens_page, name="tokens"),
    path("actions/tokens/create/", tokens.create, name="token_create"),
    path("actions/tokens/revoke/", tokens.revoke, name="token_revoke"),
    path("runs/<path:run_id>/", run_detail.run_detail, name="run"),
    path("values/run/<str:field>/<path:run_id>", run_detail.run_value, name="run_value"),
    path(
        "values/step/<int:position>/<str:field>/<path:run_id>",
        run_detail.run_value,
        name="step_value",
    ),
    path("latency/", latency.latency, name="latency"),
    path("latency/steps/", latency.step_charts, name="latency_steps"),
    path("failures/", hotspots.hotspots, name="hotspots"),
    path("audit/", activity.audit, name="audit"),
    path("alerts/", alerts.rules, name="alerts"),
    path("alerts/new/", alerts.rule_new, name="alert_new"),
    path("alerts/<int:rule_id>/", alerts.rule_detail, name="alert_rule"),
    path("alerts/<int:rule_id>/edit/", alerts.rule_edit, name="alert_edit"),
    path("alerts/incidents/<int:incident_id>/", alerts.incident, name="alert_incident"),
    path("actions/alerts/<int:rule_id>/delete/", alerts.rule_delete, name="alert_delete"),
    path("actions/alerts/<int:rule_id>/test/", alerts.rule_test, name="alert_test"),
    path("actions/failure-triage/", hotspots.triage, name="failure_triage"),
    path("workers/", activity.workers, name="workers"),
    path("system/", system.system_health, name="system"),
    path("bulk/", bulk.preview, name="bulk"),
    path("actions/bulk/", bulk.run_batch, name="bulk_run"),
    path("jobs/", jobs.jobs_list, name="jobs"),
    path("jobs/<str:job_id>/", jobs.job_detail, name="job"),
    path("actions/job/", jobs.control, name="job_control"),
    path("actions/resume/", actions.resume, name="resume"),
    path("actions/restart/", actions.restart, name="restart"),
    path("actions/cancel/", actions.cancel, name="cancel"),
    path("actions/hold/", actions.hold, name="hold"),
    path("actions/release/", actions.release, name="release"),
    path("actions/fork/", actions.fork, name="fork"),
    path("actions/move/", actions.move, name="move"),
    path("actions/run-first/", actions.run_first, name="run_first"),
    path("actions/delete/", actions.delete, name="delete"),
    path("actions/schedule/pause/", schedules.pause, name="schedule_pause"),
    path("actions/schedule/resume/", schedules.resume, name="schedule_resume"),
    path("actions/schedule/trigger/", schedules.trigger, name="schedule_trigger"),
    path("actions/queue-limits/", queues.set_limits, name="queue_set_limits"),
    path("actions/queue-limits/reset/", queues.reset_limits, name="queue_reset_limits"),
    path("actions/queue-limits/raise/", queues.raise_limit, name="queue_raise_limit"),
    path("actions/drain/", executors.drain, name="drain_executor"),
    path("actions/undrain/", executors.undrain, name="undrain_executor"),
    path("assets/plotly-<str:version>.min.js", assets.plotly_js, name="plotly_js"),
    path("assets/htmx-<str:version>.min.js", assets.htmx_js, name="htmx_js"),
]

# debugging tools (dashboard/views/debug.py); run ids may hold "/", so they come last
urlpatterns += [
    path("values/<str:which>/<path:run_id>", debug.value, name="value"),
    path("compare/<path:run_id>", debug.compare, name="compare"),
    path("stack/ask/", stacks.ask, name="stack_ask"),
    path("stack/answer/", stacks.answer, name="stack_answer"),
    path("edit-output/<int:position>/<path:run_id>", debug.patch_page, name="patch_step"),
    path("actions/patch/", debug.patch, name="patch"),
]
