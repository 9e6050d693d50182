"""`manage.py check` names each misconfiguration with an id and a hint."""

from __future__ import annotations

import logging
import sys

import pytest
from celery import Celery
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from dashboard import checks as dashboard_checks
from durable.core import _checks as checks


def ids(messages) -> list[str]:
    assert all(message.hint for message in messages), "every message says what to do"
    return [message.id for message in messages]


def test_sqlite_database_is_refused():
    assert ids(checks.database_problems("sqlite", None)) == ["durable.E001"]


def test_postgresql_older_than_14_is_refused():
    assert ids(checks.database_problems("postgresql", 130011)) == ["durable.E002"]
    assert checks.database_problems("postgresql", 140000) == []


@pytest.mark.django_db
def test_this_database_passes_the_database_check():
    assert checks.check_database(databases=["default"]) == []
    assert connection.pg_version // 10000 >= checks.MIN_POSTGRES


def test_missing_auth_app_is_reported(settings):
    settings.INSTALLED_APPS = ["django.contrib.contenttypes", "durable"]
    assert ids(checks.check_apps()) == ["durable.E003"]


def test_dashboard_without_sessions_messages_or_middleware_is_reported(settings):
    settings.INSTALLED_APPS = [
        "django.contrib.auth", "django.contrib.contenttypes", "durable", "dashboard"
    ]  # fmt: skip
    settings.MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
    found = ids(dashboard_checks.check_dashboard_needs())
    assert found == ["dashboard.E001"] * 2 + ["dashboard.E002"] * 2


def test_unknown_executor_is_reported(settings):
    settings.DURABLE_EXECUTOR = "celry"
    assert ids(checks.check_executor()) == ["durable.E004"]


def test_celery_executor_without_a_celery_app_is_reported():
    fallback = Celery("default", fixups=[], set_as_current=False)
    assert ids(checks.celery_problems(fallback)) == ["durable.E005"]


def test_celery_app_without_a_broker_is_reported(monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery reads it first
    app = Celery("shop", set_as_current=False)
    assert ids(checks.celery_problems(app)) == ["durable.E006"]
    app.conf.broker_url = "redis://127.0.0.1:6379/0"
    assert checks.celery_problems(app) == []


def test_celery_executor_without_celery_installed_names_the_extra(settings, monkeypatch):
    """A library install has no Celery (it is the [celery] extra): a check, not a traceback."""
    monkeypatch.setitem(sys.modules, "celery", None)  # what an import finds when absent
    settings.DURABLE_EXECUTOR = "celery"
    (problem,) = checks.check_executor()
    assert problem.id == "durable.E017" and "django-durable-runs[celery]" in problem.hint


def test_this_projects_celery_app_passes(settings):
    settings.DURABLE_EXECUTOR = "celery"
    assert checks.check_executor() == []


def test_workflow_module_that_does_not_import_is_reported(settings):
    settings.DURABLE_MODULES = ["tests.engine.workflows", "shop.no_such_module"]
    problems = checks.check_modules()
    assert ids(problems) == ["durable.E007"]
    assert "shop.no_such_module" in problems[0].msg


def test_modules_given_as_a_string_are_reported(settings):
    settings.DURABLE_MODULES = "shop.workflows"
    assert ids(checks.check_modules()) == ["durable.E008"]


def test_non_numbers_and_non_positive_numbers_are_reported(settings):
    settings.DURABLE_THREADS = "8"
    settings.DURABLE_LEASE_SECONDS = 0
    settings.DURABLE_MAX_PAYLOAD_BYTES = -1
    assert sorted(ids(checks.check_numbers())) == ["durable.E009", "durable.E010", "durable.E010"]


def test_lease_not_longer_than_the_sweep_is_an_error(settings):
    settings.DURABLE_LEASE_SECONDS = 1.0
    settings.DURABLE_SWEEP_SECONDS = 1.0
    assert ids(checks.check_numbers()) == ["durable.E011"]


def test_lease_close_to_the_poll_interval_is_a_warning(settings):
    settings.DURABLE_LEASE_SECONDS = 2.5
    settings.DURABLE_POLL_SECONDS = 1.0
    settings.DURABLE_SWEEP_SECONDS = 0.5
    assert ids(checks.check_numbers()) == ["durable.W011"]


def test_unparsable_retention_is_reported(settings):
    settings.DURABLE_RETENTION = "30 days"
    assert ids(checks.check_retention()) == ["durable.E012"]


def test_text_settings_that_are_not_text_or_an_empty_queue_are_reported(settings):
    settings.DURABLE_HOST_HOME_URL = None
    assert ids(checks.check_texts()) == ["durable.E014"]
    settings.DURABLE_HOST_HOME_URL = "/"
    settings.DURABLE_CELERY_QUEUE = " "
    assert ids(checks.check_texts()) == ["durable.E014"]


def test_misspelt_setting_is_reported_with_the_right_name(settings):
    settings.DURABLE_LEASE_SECOND = 10
    problems = checks.check_unknown_settings()
    assert ids(problems) == ["durable.W013"]
    assert "DURABLE_LEASE_SECONDS" in problems[0].hint


def test_a_root_logger_above_the_step_logs_level_is_reported(settings):
    """Records below the root's level are never made for loggers nobody configured, so a
    step's INFO lines would be lost without a word."""
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.WARNING)
        problems = checks.check_step_logs_level()
        assert ids(problems) == ["durable.W020"]
        assert "root" in problems[0].hint and "INFO" in problems[0].hint
        settings.DURABLE_STEP_LOGS_LEVEL = "WARNING"
        assert checks.check_step_logs_level() == []
        settings.DURABLE_STEP_LOGS_LEVEL, settings.DURABLE_STEP_LOGS = "INFO", False
        assert checks.check_step_logs_level() == []
    finally:
        root.setLevel(level)


def test_this_projects_logging_keeps_a_steps_info_lines():
    assert checks.check_step_logs_level() == []


def test_manage_py_check_fails_on_a_misconfiguration(settings):
    settings.DURABLE_EXECUTOR = "celry"
    with pytest.raises(SystemCheckError, match="durable.E004"):
        call_command("check")


def test_this_project_passes_every_check():
    call_command("check")


def test_celery_workers_taking_over_the_root_logger_is_reported(settings):
    settings.DURABLE_EXECUTOR = "celery"
    settings.CELERY_WORKER_HIJACK_ROOT_LOGGER = True
    problems = checks.check_step_logs_level()
    assert ids(problems) == ["durable.W020"]
    assert "CELERY_WORKER_HIJACK_ROOT_LOGGER = False" in problems[0].hint
    settings.CELERY_WORKER_HIJACK_ROOT_LOGGER = False
    assert checks.check_step_logs_level() == []
