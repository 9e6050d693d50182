"""Settings, driven by environment variables so one codebase serves dev, CI and production.

DATABASE_URL        PostgreSQL URL; unset means the embedded server in ./.data
DURABLE_READ_DATABASE_URL  a streaming replica of it the dashboard's pages and /metrics
                    read from (alias "replica", docs/replica.md); unset: the primary
DURABLE_*           any Durable setting (docs/settings.md); lists comma-separated
CELERY_BROKER_URL   broker for the celery executor (redis://… or amqp://…)
DEBUG               "1" for development only (off by default: error pages show settings)
SECRET_KEY          required in a deployment (DATABASE_URL set or DEBUG=0); otherwise a
                    local key is kept in the data dir
ALLOWED_HOSTS       comma-separated host names the site answers to
HTTPS               "1" behind HTTPS: Secure cookies, HSTS, SSL redirect, X-Forwarded-Proto
CSRF_TRUSTED_ORIGINS  comma-separated origins, e.g. https://durable.example.com
See docs/security.md for a production checklist.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

from config.database import READ_ALIAS, database_settings, read_database_settings
from config.environment import durable_settings_from_environment
from config.secrets import is_development, secret_key
from durable.core.conf import DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_key(
    is_development(), Path(os.environ.get("DURABLE_DATA_DIR", BASE_DIR / ".data"))
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# --- HTTPS=1: the site is served over HTTPS (directly or behind a TLS-terminating proxy) ---
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = HTTPS
# the proxy must set X-Forwarded-Proto (and strip it from clients), as nginx, Caddy,
# Traefik and cloud load balancers do
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_REDIRECT_EXEMPT = [r"^health/?$"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# the DEBUG error page masks passwords inside URLs too (broker, database, DSNs)
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.UrlPasswordFilter"
# what pages may load: only this site's own scripts (no inline ones), see config/middleware.py
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

# --- log-in throttling (django-axes): a user name + address pair is locked after
# AXES_FAILURE_LIMIT wrong passwords for AXES_COOLOFF_TIME hours
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "config.throttling.attempted_username"
# behind PROXY_COUNT proxies the client is the address the last proxy appended
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "1" if HTTPS else "0"))
AXES_IPWARE_PROXY_ORDER = "right-most"
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if AXES_IPWARE_PROXY_COUNT else ("REMOTE_ADDR",)
)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # no django.contrib.postgres, humanize, django_htmx or template_partials: the apps
    # need none of them installed, and this project proves it
    "axes",  # log-in throttling
    "durable",
    "dashboard",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "config.middleware.RejectNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
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

DATABASES = {"default": database_settings(BASE_DIR), **read_database_settings()}
# reads of the dashboard's pages go to DURABLE_READ_DATABASE when it is set (a no-op otherwise)
DATABASE_ROUTERS = ["durable.routers.ReadReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# the site's own files (favicon, robots.txt, site.css); the apps ship theirs in their packages
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# WhiteNoise serves STATIC_ROOT (filled by `manage.py collectstatic`, which also writes
# gzip copies); with DEBUG on it serves the apps' files directly
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "dashboard.staticfiles.PlotlyFinder",  # plotly.js from its package, compressed on collect
]
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = DEBUG

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
    # INFO records of loggers nobody configured are made, so a step's INFO lines reach its
    # step logs (DURABLE_STEP_LOGS_LEVEL; check durable.W020). The root has no handler here:
    # nothing more is printed
    "root": {"level": "INFO"},
}

# --- Durable -----------------------------------------------------------------------------
# Defaults live in durable/core/conf.py (docs/settings.md); a DURABLE_* environment variable
# overrides the setting of the same name, and nothing else is set here.
globals().update(durable_settings_from_environment())
DURABLE_DEMO_WORKLOAD = "demo.workload"
if READ_ALIAS in DATABASES:  # DURABLE_READ_DATABASE_URL names a replica
    globals().setdefault("DURABLE_READ_DATABASE", READ_ALIAS)
# this repository serves /metrics when prometheus-client (the [metrics] extra, part of
# [server]) is installed
globals().setdefault("DURABLE_METRICS_ENABLED", find_spec("prometheus_client") is not None)

# --- Celery (DURABLE_EXECUTOR=celery) ------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("DURABLE_CELERY_QUEUE", DEFAULTS["DURABLE_CELERY_QUEUE"])
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# a worker whose broker restarts reconnects for as long as it takes, instead of exiting after
# 100 tries; run workers under a supervisor all the same (docs/reliability.md)
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
