"""Settings, driven by environment variables so one codebase serves dev, CI and production.

DATABASE_URL        PostgreSQL URL; unset means the embedded server in ./.data
DURABLE_EXECUTOR    "thread" (in-process, default) or "celery"
CELERY_BROKER_URL   broker for the celery executor (redis://… or amqp://…)
DURABLE_CELERY_QUEUE  Celery queue carrying run messages (default "durable")
DURABLE_MODULES     extra comma-separated modules that define workflows
SECRET_KEY, DEBUG, ALLOWED_HOSTS
"""

from __future__ import annotations

import os
from pathlib import Path

from config.database import database_settings

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get(
    "SECRET_KEY", "dev-only-insecure-key-change-me-in-production-0123456789"
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "durable",
    "dashboard",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_settings(BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS: list[Path] = []  # the apps ship their own static files
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "durable": {"handlers": ["console"], "level": os.environ.get("DURABLE_LOG_LEVEL", "INFO")}
    },
}

# --- Durable -----------------------------------------------------------------------------
DURABLE_EXECUTOR = os.environ.get("DURABLE_EXECUTOR", "thread")
DURABLE_MODULES = env_list("DURABLE_MODULES")
DURABLE_THREADS = int(os.environ.get("DURABLE_THREADS", "8"))
DURABLE_LEASE_SECONDS = float(os.environ.get("DURABLE_LEASE_SECONDS", "30"))
DURABLE_MAX_RECOVERIES = int(os.environ.get("DURABLE_MAX_RECOVERIES", "3"))
DURABLE_POLL_SECONDS = float(os.environ.get("DURABLE_POLL_SECONDS", "1"))
DURABLE_DEMO_WORKLOAD = "demo.workload"
DURABLE_SLEEP_INLINE_SECONDS = float(os.environ.get("DURABLE_SLEEP_INLINE_SECONDS", "2"))
DURABLE_RETENTION = os.environ.get("DURABLE_RETENTION", "")  # e.g. "30d": prune hourly
DURABLE_MAX_PAYLOAD_BYTES = int(os.environ.get("DURABLE_MAX_PAYLOAD_BYTES", str(8 * 1024 * 1024)))
DURABLE_METRICS_ENABLED = env_bool("DURABLE_METRICS_ENABLED", True)
DURABLE_METRICS_TOKEN = os.environ.get("DURABLE_METRICS_TOKEN", "")
DURABLE_TRACE_URL_TEMPLATE = os.environ.get("DURABLE_TRACE_URL_TEMPLATE", "")

# --- Celery (DURABLE_EXECUTOR=celery) ------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("DURABLE_CELERY_QUEUE", "durable")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery queue that carries run messages; workers consume it (`celery -A config worker`)
DURABLE_CELERY_QUEUE = CELERY_TASK_DEFAULT_QUEUE
# sweep: recover dead workers' runs and dispatch runs without a message, in every worker
DURABLE_SWEEP_SECONDS = float(os.environ.get("DURABLE_SWEEP_SECONDS", "1"))
DURABLE_WORKER_SWEEPS = env_bool("DURABLE_WORKER_SWEEPS", True)
# an ENQUEUED run this long without being claimed, while the broker's queue is empty, is
# taken to have lost its message and is dispatched again
DURABLE_REDISPATCH_SECONDS = float(os.environ.get("DURABLE_REDISPATCH_SECONDS", "60"))
