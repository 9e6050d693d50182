"""The DEBUG error page never shows a password: not in settings (the broker URL), not in
the request's environment (DATABASE_URL), however the credential is spelled."""

from __future__ import annotations

import sys

from django.test import RequestFactory
from django.views.debug import ExceptionReporter

# the passwords are joined at run time: the page also shows the source lines around each
# frame, and this file's own text is no leak
SECRETS = ["-".join([name, "pw"]) for name in ("br0ker", "db", "r3dis", "dsn")]
BROKER = f"amqp://durable:{SECRETS[0]}@rabbit.internal:5672/prod"
DATABASE = f"postgres://app:{SECRETS[1]}%21@db.internal:5432/durable"


def _fail() -> None:
    """Raised away from the test's own lines: the page shows the source around the raise."""
    raise RuntimeError("boom")


def _error_page(settings) -> str:
    settings.DEBUG = True
    settings.CELERY_BROKER_URL = BROKER
    settings.SENTRY_DSN = f"https://public:{SECRETS[3]}@sentry.example/1"
    request = RequestFactory().get(
        "/boom", DATABASE_URL=DATABASE, REDIS_URL=f"redis://:{SECRETS[2]}@r:6379/0"
    )
    try:
        _fail()
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
    return reporter.get_traceback_html()


def test_the_debug_error_page_hides_passwords_in_urls(settings):
    page = _error_page(settings)
    for secret in SECRETS:
        assert secret not in page, secret
    assert "rabbit.internal" in page  # the rest of the URL still helps debugging
    assert "amqp://durable:********************@rabbit.internal" in page
