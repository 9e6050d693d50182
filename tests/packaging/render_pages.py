"""Run inside the README's `shop` project, with the wheel's venv: render every dashboard
page under its prefix as a logged-in user. Prints "pages rendered: N"."""

from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.staticfiles import finders  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

import dashboard  # noqa: E402
import durable  # noqa: E402
from durable.models import Run  # noqa: E402

PREFIX = "/ops/durable/"
LINK = re.compile(r'(?:href|src|action|hx-get|hx-post)="(/[^"]*)"')


def main() -> None:
    for package in (durable, dashboard):
        assert "site-packages" in package.__file__, f"{package.__name__} not from the wheel"
    setup_test_environment()
    user = get_user_model().objects.create_superuser("ops", password="ops-password-1")
    client = Client()
    client.force_login(user)
    run = Run.objects.get()  # the README's first workflow
    pages = ["", f"runs/{run.id}/", "latency/", "failures/", "workers/", "audit/",
             f"bulk/?action=cancel&scope=selected&run_ids={run.id}",
             f"?status={run.status}"]  # fmt: skip
    for page in pages:
        response = client.get(PREFIX + page)
        assert response.status_code == 200, (page, response.status_code)
        html = response.content.decode()
        for link in LINK.findall(html):
            allowed = link.startswith((PREFIX, "/static/", "/admin/", "/accounts/"))
            assert allowed, f"{page}: link {link} is outside the prefix"
        assert "host-home" not in html, f"{page}: a link back to a site root nobody named"
    for asset in ("dashboard/app.css", "dashboard/app.js"):
        assert "site-packages" in (finders.find(asset) or ""), f"{asset} not in the wheel"
    for script in re.findall(r'<script src="([^"]+)"', html):
        if script.startswith(PREFIX):
            assert client.get(script).status_code == 200, script
    print(f"pages rendered: {len(pages)}")


main()
