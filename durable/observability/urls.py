"""Probe and scrape endpoints: `path("", include("durable.observability.urls"))` in the
host's urls."""

from django.urls import path

from durable.observability import _views as views

app_name = "durable"

urlpatterns = [
    path("health", views.health_view, name="health"),
    path("metrics", views.metrics_view, name="metrics"),
]
