"""System checks for the dashboard: the apps and middleware its views rely on."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

REQUIRED_APPS = (
    "durable",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
)
REQUIRED_MIDDLEWARE = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
)


@register()
def check_dashboard_needs(**_: Any) -> list[CheckMessage]:
    """Logins need sessions and auth; actions report through messages."""
    missing_apps = [
        Error(f"the dashboard needs {name!r} in INSTALLED_APPS",
              hint=f"add {name!r} to INSTALLED_APPS", id="dashboard.E001")
        for name in REQUIRED_APPS if not apps.is_installed(name)
    ]  # fmt: skip
    missing_middleware = [
        Error(f"the dashboard needs {name!r} in MIDDLEWARE",
              hint=f"add {name!r} to MIDDLEWARE (startproject lists it)", id="dashboard.E002")
        for name in REQUIRED_MIDDLEWARE if name not in settings.MIDDLEWARE
    ]  # fmt: skip
    return missing_apps + missing_middleware
