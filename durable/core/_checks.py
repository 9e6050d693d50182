"""System checks (`manage.py check`): what a misconfigured deployment would otherwise learn
at run time, each with an id and a hint that says what to do.

durable.E001 database not PostgreSQL        durable.E002 PostgreSQL older than 14
durable.E003 a required app is missing      durable.E004 DURABLE_EXECUTOR unknown
durable.E005 celery executor, no Celery app durable.E006 celery executor, no broker
durable.E007 a DURABLE_MODULES module fails durable.E008 DURABLE_MODULES is not a list
durable.E009 a number setting is not one    durable.E010 a number is out of range
durable.E011 lease not above sweep/poll     durable.W011 lease within 3x sweep/poll
durable.E012 a retention setting unparsable durable.W013 an unknown DURABLE_* setting
durable.E014 a text setting is not text (or the Celery queue name is empty)
durable.W015 /metrics is on but prometheus-client is not installed
durable.W016 /metrics is on without DURABLE_METRICS_TOKEN (deploy check: it answers 403)
durable.E017 celery executor, but Celery is not installed (the [celery] extra)
durable.E018 DURABLE_READ_DATABASE is no other alias in DATABASES
durable.E019 DURABLE_READ_DATABASE set without durable.routers.ReadReplicaRouter
durable.W020 the root logger's level is above DURABLE_STEP_LOGS_LEVEL (steps' lines lost)
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
from typing import Any

from django.apps import apps
from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import connections

from durable.core.conf import DEFAULTS, settings

MIN_POSTGRES = 14  # Django 5.2's own floor; the engine's SQL needs 13+
EXECUTORS = ("thread", "celery", "external")
CELERY_EXTRA = "pip install 'django-durable-runs[celery]', or use DURABLE_EXECUTOR='thread'"
REQUIRED_APPS = ("django.contrib.contenttypes", "django.contrib.auth")

# setting -> (smallest allowed value, type); 0 allowed only where it means something
NUMBERS: dict[str, tuple[float, type]] = {
    "DURABLE_THREADS": (1, int),
    "DURABLE_PARTITION_DAYS": (1, int),
    "DURABLE_PARTITIONS_AHEAD": (1, int),
    "DURABLE_LEASE_SECONDS": (0.1, float),
    "DURABLE_HEARTBEAT_SECONDS": (0.05, float),
    "DURABLE_MAX_RECOVERIES": (0, int),
    "DURABLE_POLL_SECONDS": (0.01, float),
    "DURABLE_SLEEP_INLINE_SECONDS": (0, float),
    "DURABLE_MAX_PAYLOAD_BYTES": (1, int),
    "DURABLE_SWEEP_SECONDS": (0.01, float),
    "DURABLE_REDISPATCH_SECONDS": (0.01, float),
    "DURABLE_TRANSACTION_CONFLICT_RETRIES": (0, int),
    "DURABLE_CANCEL_CONFIRM_SECONDS": (0, float),
    "DURABLE_HEALTH_TIMEOUT_SECONDS": (0.1, float),
    "DURABLE_METRICS_MAX_LABEL_VALUES": (1, int),
    "DURABLE_SCHEDULE_MIN_INTERVAL_SECONDS": (0, float),
    "DURABLE_STACK_TIMEOUT_SECONDS": (0.1, float),
    "DURABLE_STEP_LOGS_MAX_RECORDS": (0, int),
    "DURABLE_STEP_LOGS_MAX_BYTES": (0, int),
    "DURABLE_STACK_MAX_LOCALS": (0, int),
    "DURABLE_STACK_MAX_REPR_CHARS": (1, int),
}


def _error(id_: int, msg: str, hint: str, level: type = Error) -> CheckMessage:
    prefix = "W" if level is Warning else "E"
    return level(msg, hint=hint, id=f"durable.{prefix}{id_:03d}")


@register(Tags.database)
def check_database(databases: list[str] | None = None, **_: Any) -> list[CheckMessage]:
    """Runs with `migrate` and `check --database default` (it needs a connection)."""
    if not databases or "default" not in databases:
        return []
    connection = connections["default"]
    version = connection.pg_version if connection.vendor == "postgresql" else None
    return database_problems(connection.vendor, version)


def database_problems(vendor: str, pg_version: int | None) -> list[CheckMessage]:
    """`pg_version` as psycopg reports it: 150004 for 15.4."""
    if vendor != "postgresql":
        return [
            _error(
                1,
                f"Durable needs PostgreSQL; the default database is {vendor}",
                "set DATABASES['default']['ENGINE'] to "
                "'django.db.backends.postgresql' and point it at PostgreSQL "
                f"{MIN_POSTGRES} or newer",
            )
        ]
    if pg_version is not None and pg_version // 10000 < MIN_POSTGRES:
        return [
            _error(
                2,
                f"PostgreSQL {pg_version // 10000} is too old for Durable",
                f"upgrade the server to PostgreSQL {MIN_POSTGRES} or newer",
            )
        ]
    return []


@register()
def check_apps(**_: Any) -> list[CheckMessage]:
    return [
        _error(
            3,
            f"Durable needs {name!r} in INSTALLED_APPS",
            f"add {name!r} to INSTALLED_APPS (startproject lists it by default)",
        )
        for name in REQUIRED_APPS
        if not apps.is_installed(name)
    ]


@register()
def check_executor(**_: Any) -> list[CheckMessage]:
    kind = settings.DURABLE_EXECUTOR
    if kind not in EXECUTORS:
        return [
            _error(
                4,
                f"DURABLE_EXECUTOR is {kind!r}",
                "set it to 'thread' (in-process), 'celery' (Celery workers) or "
                "'external' (`manage.py durable worker` processes)",
            )
        ]
    if kind != "celery":
        return []
    if importlib.util.find_spec("celery") is None:
        missing = "DURABLE_EXECUTOR is 'celery' but Celery is not installed"
        return [_error(17, missing, CELERY_EXTRA)]
    from celery import current_app

    return celery_problems(current_app._get_current_object())


def celery_problems(app: Any) -> list[CheckMessage]:
    """`app` is Celery's current app: the host's, or the fallback Celery makes when there
    is none (named "default", never set as current)."""
    if app.main == "default" and not app.set_as_current:
        return [
            _error(
                5,
                "DURABLE_EXECUTOR is 'celery' but no Celery app is configured",
                "create one in your project (proj/celery.py: app = Celery('proj'); "
                "app.config_from_object('django.conf:settings', namespace='CELERY'); "
                "import it in proj/__init__.py), or use DURABLE_EXECUTOR='thread'",
            )
        ]
    if not app.conf.broker_url:
        return [
            _error(
                6,
                f"the Celery app {app.main!r} has no broker",
                "set CELERY_BROKER_URL (redis://… or amqp://…) in settings or the environment",
            )
        ]
    return []


@register()
def check_modules(**_: Any) -> list[CheckMessage]:
    modules = settings.DURABLE_MODULES
    if isinstance(modules, str) or not isinstance(modules, list | tuple):
        return [
            _error(
                8,
                f"DURABLE_MODULES must be a list of module names, not {modules!r}",
                'write DURABLE_MODULES = ["shop.workflows"]',
            )
        ]
    problems = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an executor importing it would fail the same way
            problems.append(
                _error(
                    7,
                    f"DURABLE_MODULES names {name!r}, which does not import: "
                    f"{type(exc).__name__}: {exc}",
                    "fix the module or remove it from DURABLE_MODULES; "
                    "workers could not run its workflows",
                )
            )
    return problems


@register()
def check_numbers(**_: Any) -> list[CheckMessage]:
    problems = []
    for name, (smallest, kind) in NUMBERS.items():
        value = getattr(settings, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind is int and not isinstance(value, int))
        ):
            problems.append(
                _error(
                    9,
                    f"{name} must be {'an integer' if kind is int else 'a number'}, not {value!r}",
                    f"set {name} = {DEFAULTS[name]!r} or another number",
                )
            )
        elif value < smallest:
            problems.append(
                _error(
                    10,
                    f"{name} is {value!r}; it must be at least {smallest}",
                    f"the default is {DEFAULTS[name]!r}",
                )
            )
    return problems or lease_problems()


def lease_problems() -> list[CheckMessage]:
    """A lease must outlive several sweeps and polls, or live owners lose runs to recovery
    and dead owners' runs wait."""
    lease = settings.DURABLE_LEASE_SECONDS
    interval = max(settings.DURABLE_SWEEP_SECONDS, settings.DURABLE_POLL_SECONDS)
    hint = (
        f"keep DURABLE_LEASE_SECONDS at least 3x DURABLE_SWEEP_SECONDS and "
        f"DURABLE_POLL_SECONDS (now {interval}s): e.g. {max(30, interval * 3)}"
    )
    if lease <= interval:
        return [
            _error(
                11,
                f"DURABLE_LEASE_SECONDS ({lease}) is not longer than the sweep or "
                f"poll interval ({interval})",
                hint,
            )
        ]
    if lease < interval * 3:
        return [
            _error(
                11,
                f"DURABLE_LEASE_SECONDS ({lease}) is close to the sweep or poll "
                f"interval ({interval})",
                hint,
                Warning,
            )
        ]
    return []


@register()
def check_retention(**_: Any) -> list[CheckMessage]:
    from durable.core._validation import parse_age

    errors = []
    for name, keeps in (("DURABLE_RETENTION", "every run"),
                        ("DURABLE_ALERT_DELIVERY_RETENTION", "every delivery")):  # fmt: skip
        retention = getattr(settings, name)
        try:
            if retention:
                parse_age(retention)
        except (ValueError, TypeError) as exc:
            errors.append(_error(12, f"{name}: {exc}", f'e.g. "30d"; "" keeps {keeps}'))
    return errors


@register()
def check_unknown_settings(**_: Any) -> list[CheckMessage]:
    """A misspelt setting is silently ignored; say so."""
    problems = []
    for name in dir(django_settings):
        if name.startswith("DURABLE_") and name not in DEFAULTS:
            close = difflib.get_close_matches(name, DEFAULTS, n=1)
            hint = f"did you mean {close[0]}?" if close else "see docs/settings.md"
            problems.append(_error(13, f"{name} is not a Durable setting", hint, Warning))
    return problems


@register()
def check_texts(**_: Any) -> list[CheckMessage]:
    problems = [
        _error(14, f"{name} must be a string, not {getattr(settings, name)!r}",
               f"the default is {DEFAULTS[name]!r}")
        for name, default in DEFAULTS.items()
        if isinstance(default, str) and not isinstance(getattr(settings, name), str)
    ]  # fmt: skip
    if not problems and not settings.DURABLE_CELERY_QUEUE.strip():
        problems.append(
            _error(
                14,
                "DURABLE_CELERY_QUEUE is empty",
                f"name the Celery queue, e.g. {DEFAULTS['DURABLE_CELERY_QUEUE']!r}",
            )
        )
    return problems


@register()
def check_metrics_package(**_: Any) -> list[CheckMessage]:
    """/metrics answers 501 without its optional package; say so before a scraper does."""
    if not settings.DURABLE_METRICS_ENABLED or importlib.util.find_spec("prometheus_client"):
        return []
    return [
        _error(
            15,
            "DURABLE_METRICS_ENABLED is on but prometheus-client is not installed",
            "pip install 'django-durable-runs[metrics]', or set DURABLE_METRICS_ENABLED = False",
            Warning,
        )
    ]


@register(Tags.security, deploy=True)
def check_metrics_token(**_: Any) -> list[CheckMessage]:
    """Outside DEBUG, /metrics answers 403 until a token is set: say so at deploy time."""
    if not settings.DURABLE_METRICS_ENABLED or settings.DURABLE_METRICS_TOKEN:
        return []
    return [
        _error(
            16,
            "DURABLE_METRICS_ENABLED is on without DURABLE_METRICS_TOKEN: /metrics answers "
            "403 to scrapers while DEBUG is off",
            "set DURABLE_METRICS_TOKEN to a random string and scrape with "
            "'Authorization: Bearer <token>', or set DURABLE_METRICS_ENABLED = False",
            Warning,
        )
    ]


READ_ROUTER = "durable.routers.ReadReplicaRouter"


@register(Tags.database)
def check_read_database(**_: Any) -> list[CheckMessage]:
    databases = getattr(django_settings, "DATABASES", {})
    routers = getattr(django_settings, "DATABASE_ROUTERS", [])
    return read_database_problems(settings.DURABLE_READ_DATABASE, databases, routers)


def read_database_problems(
    alias: str, databases: dict[str, Any], routers: list[Any]
) -> list[CheckMessage]:
    """A read replica the pages can use: a second alias, and the router that sends reads there."""
    if not alias:
        return []
    if alias not in databases or alias == "default":
        return [
            _error(
                18,
                f"DURABLE_READ_DATABASE is {alias!r}, which is not another alias in DATABASES",
                'add the replica to DATABASES under that alias, or set DURABLE_READ_DATABASE = ""'
                " to read from the primary (docs/replica.md)",
            )
        ]
    if READ_ROUTER not in [_dotted(router) for router in routers]:
        return [
            _error(
                19,
                "DURABLE_READ_DATABASE is set but no router sends reads there",
                f'add "{READ_ROUTER}" to DATABASE_ROUTERS (docs/replica.md)',
            )
        ]
    return []


def _dotted(router: Any) -> str:
    """A DATABASE_ROUTERS entry's dotted path (an entry may be an instance)."""
    return (
        router if isinstance(router, str) else f"{type(router).__module__}.{type(router).__name__}"
    )


@register()
def check_step_logs_level(**_: Any) -> list[CheckMessage]:
    """A logger nobody configured takes the root's level, and a record below it is never
    made: no handler, Durable's included, sees it. With Python's default root (WARNING) the
    INFO lines a step logs would be missing from its step logs without a word."""
    if not settings.DURABLE_STEP_LOGS:
        return []
    hijacked = settings.DURABLE_EXECUTOR == "celery" and getattr(
        django_settings, "CELERY_WORKER_HIJACK_ROOT_LOGGER", True
    )
    if hijacked:  # a worker resets the root's level and handlers to its own at its start
        return [
            _error(
                20,
                "Celery workers take over the root logger (worker_hijack_root_logger): its "
                "level becomes the worker's --loglevel and Durable's step-log handler goes",
                "set CELERY_WORKER_HIJACK_ROOT_LOGGER = False (this project does), so steps "
                "keep their log lines on the workers",
                Warning,
            )
        ]
    wanted = logging.getLevelName(str(settings.DURABLE_STEP_LOGS_LEVEL).upper())
    root = logging.getLogger().getEffectiveLevel()
    if not isinstance(wanted, int) or root <= wanted:
        return []
    wanted_name, root_name = logging.getLevelName(wanted), logging.getLevelName(root)
    return [
        _error(
            20,
            f"the root logger's level is {root_name}, above DURABLE_STEP_LOGS_LEVEL "
            f"({wanted_name}): {wanted_name} lines of loggers you did not configure are never "
            "made, so steps' step logs miss them",
            f'set LOGGING["root"] = {{"level": "{wanted_name}"}} (a level is not a handler: '
            "nothing more is printed), give your own loggers that level, or raise "
            "DURABLE_STEP_LOGS_LEVEL",
            Warning,
        )
    ]
