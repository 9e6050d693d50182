"""The dashboard app: it brings its own template libraries, so a host adds only this app."""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.conf import settings

# Template tag libraries the dashboard's templates load, by the name they load them with.
# Offered through the template engine's OPTIONS["libraries"], so the host need not add
# django.contrib.humanize or template_partials to INSTALLED_APPS (htmx itself is served by
# the dashboard from the django-htmx package: dashboard/views/assets.py).
TEMPLATE_LIBRARIES = {
    "humanize": "django.contrib.humanize.templatetags.humanize",
    "partials": "template_partials.templatetags.partials",
}


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Durable dashboard"

    def ready(self) -> None:
        from dashboard import (
            checks,  # noqa: F401  (registers the system checks)
            token_cli,
        )
        from durable.management.cli import extensions

        extensions.register("token", token_cli.add_token_arguments, token_cli.handle_token)

        offer_template_libraries()
        if not apps.is_installed("template_partials"):
            # what template_partials' own AppConfig does: "page.html#fragment" loading
            from template_partials.apps import wrap_loaders

            wrap_loaders("django")


def offer_template_libraries() -> None:
    """Register the libraries with every Django template engine that lacks them."""
    for config in settings.TEMPLATES:
        if config["BACKEND"] != "django.template.backends.django.DjangoTemplates":
            continue
        libraries = config.setdefault("OPTIONS", {}).setdefault("libraries", {})
        for name, module in TEMPLATE_LIBRARIES.items():
            libraries.setdefault(name, module)
