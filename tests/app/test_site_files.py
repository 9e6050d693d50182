"""static/: the site's own files (favicon, robots.txt, stylesheet), found, served and
collected with the apps' files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
SITE_FILES = ("favicon.svg", "robots.txt", "site.css")


@pytest.mark.parametrize("name", SITE_FILES)
def test_each_site_file_is_served_under_static(client, name):
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (PROJECT_DIR / "static" / name).read_bytes()


@pytest.mark.parametrize(("path", "target"), [("/robots.txt", "/static/robots.txt"),
                                              ("/favicon.ico", "/static/favicon.svg")])  # fmt: skip
def test_browsers_and_crawlers_find_them_at_the_root(client, path, target):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == target


@pytest.mark.django_db
def test_the_log_in_page_wears_the_sites_favicon_and_stylesheet(client):
    html = client.get("/accounts/login/").content.decode()
    assert 'href="/static/site.css"' in html and 'href="/static/favicon.svg"' in html
    assert 'href="/static/dashboard/app.css"' in html and 'name="password"' in html


def test_collectstatic_collects_them_with_the_apps_files(tmp_path):
    env = {**os.environ, "STATIC_ROOT": str(tmp_path / "collected"), "DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=PROJECT_DIR,
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    collected = {path.name for path in (tmp_path / "collected").iterdir()}
    assert set(SITE_FILES) <= collected and "dashboard" in collected
