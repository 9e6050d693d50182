"""URLs: the dashboard at /, Django admin at /admin/, login/logout under /accounts/, and the
site's own files that crawlers and browsers ask for at the root (kept in static/)."""

from collections.abc import Callable

from django.contrib import admin
from django.http import HttpResponse
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView


def site_file(name: str) -> Callable[..., HttpResponse]:
    """/robots.txt, /favicon.ico → the collected file under STATIC_URL."""
    return RedirectView.as_view(url=static(name), permanent=False)


urlpatterns = [
    path("robots.txt", site_file("robots.txt")),
    path("favicon.ico", site_file("favicon.svg")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("durable.observability.urls")),  # /health and /metrics
    path("", include("dashboard.urls")),
]
handler400 = "config.error_pages.bad_request"
