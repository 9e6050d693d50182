"""A host site that mounts the dashboard under a prefix, with no login or admin URLs."""

from django.urls import include, path

urlpatterns = [path("ops/durable/", include("dashboard.urls"))]
