"""Production settings, each checked in a fresh process with exactly the environment given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k3J9x-Qw7vZpL2mN8rT5yB1cD4fG6hJ0sA_eU3iO9pKlZx7Cv2Bn5Mq8Wt1Ry4Ue6",
    "ALLOWED_HOSTS": "durable.example.com",
    "HTTPS": "1",
    "CSRF_TRUSTED_ORIGINS": "https://durable.example.com",
    "DURABLE_METRICS_TOKEN": "m3trics-t0ken-for-the-scraper",
}
PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
names = ["DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
         "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "CSRF_TRUSTED_ORIGINS", "MIDDLEWARE"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This machine's database and broker, with none of the security variables set."""
    keep = ("PATH", "HOME", "DATABASE_URL", "DURABLE_TEST_DATABASE", "CELERY_BROKER_URL")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DURABLE_DATA_DIR=str(tmp_path))
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _settings(env: dict[str, str]) -> dict:
    done = _run(["-c", PRINT_SETTINGS], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_debug_is_off_unless_asked_for(tmp_path):
    env = _environment(tmp_path, SECRET_KEY=PRODUCTION["SECRET_KEY"])
    assert _settings(env)["DEBUG"] is False


def test_without_a_secret_key_a_deployment_refuses_to_start_in_one_line(tmp_path):
    """A DATABASE_URL means a deployment: no SECRET_KEY, no start, and no traceback."""
    env = _environment(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1/anything")
    done = _run(["manage.py", "check"], env)
    assert done.returncode != 0
    assert "SECRET_KEY is not set and DEBUG is off" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_debug_explicitly_off_refuses_without_a_key_even_on_the_embedded_database(tmp_path):
    env = _environment(tmp_path, DEBUG="0")
    env.pop("DATABASE_URL", None)
    done = _run(["manage.py", "check"], env)
    assert done.returncode != 0 and "SECRET_KEY is not set" in done.stderr
    assert not (tmp_path / "dev-secret-key").exists()


def test_the_checkout_on_its_embedded_database_keeps_a_local_key_with_debug_off(tmp_path):
    """`python manage.py durable list` in the quick start's setup, with no variables set."""
    env = _environment(tmp_path)
    env.pop("DATABASE_URL", None)
    code = "import django; from django.conf import settings; print(settings.DEBUG)"
    done = _run(["-c", code], env)
    assert done.stdout.strip() == "False", done.stderr
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o077 == 0


def test_debug_uses_a_local_key_kept_in_the_data_dir(tmp_path):
    env = _environment(tmp_path, DEBUG="1")
    print_key = "import django; from django.conf import settings; print(settings.SECRET_KEY)"
    first, second = (_run(["-c", print_key], env).stdout for _ in range(2))
    assert first == second and len(first.strip()) >= 50
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o077 == 0


def test_check_deploy_reports_nothing_with_the_production_settings(tmp_path):
    done = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        _environment(tmp_path, **PRODUCTION),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_https_switch_turns_on_secure_cookies_hsts_redirect_and_the_proxy_header(tmp_path):
    values = _settings(_environment(tmp_path, **PRODUCTION))
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SECURE_SSL_REDIRECT"] and values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://durable.example.com"]
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in values["MIDDLEWARE"]


LOGIN_BEHIND_PROXY = """
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
client = Client(enforce_csrf_checks=True, HTTP_HOST="durable.example.com",
                HTTP_X_FORWARDED_PROTO="https")
page = client.get("/accounts/login/", secure=False)
token = client.cookies["csrftoken"].value
answer = client.post("/accounts/login/", {"username": "nobody", "password": "wrong",
                     "csrfmiddlewaretoken": token}, HTTP_ORIGIN="https://durable.example.com",
                     HTTP_REFERER="https://durable.example.com/accounts/login/")
print(page.status_code, answer.status_code)
"""


@pytest.mark.django_db
def test_a_login_behind_an_https_proxy_is_not_refused(tmp_path):
    """The proxy speaks HTTPS to the browser and HTTP to us: CSRF must still accept it."""
    from django.conf import settings

    env = _environment(tmp_path, **PRODUCTION)
    env["DATABASE_URL"] = _test_database_url(settings.DATABASES["default"])
    done = _run(["-c", LOGIN_BEHIND_PROXY], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "200"]  # the form again, with "wrong password"


def _test_database_url(database: dict) -> str:
    """The test database as a URL; the embedded server's host is a socket directory."""
    host = quote(database.get("HOST") or "127.0.0.1", safe="")
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{database['USER']}@{host}{port}/{database['NAME']}"


COMPRESSED_STATIC = """
import django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("collectstatic", interactive=False, verbosity=0)
client = Client(HTTP_HOST="durable.example.com", HTTP_X_FORWARDED_PROTO="https")
for path in ("/static/dashboard/app.js", "/static/dashboard/app.css",
             "/static/dashboard/vendor/htmx-2.min.js", "/static/dashboard/vendor/plotly.min.js"):
    response = client.get(path, HTTP_ACCEPT_ENCODING="gzip")
    print(path, response.status_code, response.get("Content-Encoding", "-"))
"""


def test_static_files_are_served_compressed_without_debug(tmp_path):
    """Under gunicorn (DEBUG off) app.js, app.css, htmx and plotly come from WhiteNoise,
    gzipped (the last two collected from their packages by dashboard.staticfiles)."""
    env = _environment(tmp_path, **PRODUCTION, STATIC_ROOT=str(tmp_path / "static"))
    done = _run(["-c", COMPRESSED_STATIC], env)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.strip().splitlines()]
    assert lines and all(status == "200" and encoding == "gzip" for _, status, encoding in lines)


def test_the_quick_start_demo_runs_in_development_mode_with_no_variables_set(tmp_path):
    """`manage.py durable demo` on a fresh machine: DEBUG on, a local key, no SECRET_KEY."""
    done = _run(["manage.py", "durable", "demo", "--help"], _environment(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dev-secret-key").exists()


def test_the_embedded_database_command_runs_in_development_mode_with_no_variables_set(tmp_path):
    """The README's `manage.py embedded_db status` works where the demo does."""
    environment = _environment(tmp_path)
    environment.pop("DATABASE_URL", None)
    done = _run(["manage.py", "embedded_db", "status"], environment)
    assert done.returncode == 0, done.stderr
    assert "not running" in done.stdout
