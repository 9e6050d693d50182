"""URLs: the dashboard at /, Django admin at /admin/, login/logout under /accounts/."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("durable.observability.urls")),  # /health and /metrics
    path("", include("dashboard.urls")),
]
