"""Dashboard URLs. Pages are GET; every action is a POST under actions/."""

from django.urls import path

from dashboard.views import (
    actions,
    activity,
    assets,
    bulk,
    hotspots,
    latency,
    run_detail,
    runs,
    system,
)

app_name = "dashboard"

urlpatterns = [
    path("", runs.runs_list, name="runs"),
    path("runs/<path:run_id>/", run_detail.run_detail, name="run"),
    path("latency/", latency.latency, name="latency"),
    path("failures/", hotspots.hotspots, name="hotspots"),
    path("audit/", activity.audit, name="audit"),
    path("workers/", activity.workers, name="workers"),
    path("system/", system.system_health, name="system"),
    path("bulk/", bulk.preview, name="bulk"),
    path("actions/bulk/", bulk.run_batch, name="bulk_run"),
    path("actions/resume/", actions.resume, name="resume"),
    path("actions/restart/", actions.restart, name="restart"),
    path("actions/cancel/", actions.cancel, name="cancel"),
    path("actions/fork/", actions.fork, name="fork"),
    path("assets/plotly-<str:version>.min.js", assets.plotly_js, name="plotly_js"),
]
