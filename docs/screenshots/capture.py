"""Capture a screenshot of every dashboard page from a running demo server.

python manage.py durable demo 127.0.0.1:8011 &   # then, after a minute of runs:
python docs/screenshots/capture.py http://127.0.0.1:8011
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]


def shoot(page: Page, base: str, path: str, name: str, full_page: bool = True) -> None:
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)
    print("saved", OUT / f"{name}.png")


def first_run_link(page: Page, base: str, status: str) -> str | None:
    page.goto(f"{base}/?status={status}")
    link = page.locator("#results a.runid").first
    return link.get_attribute("href") if link.count() else None


def main(base: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + "/accounts/login/")
        page.screenshot(path=str(OUT / "login.png"))
        page.fill("#id_username", "admin")
        page.fill("#id_password", "admin")
        page.click("button[type=submit]")
        shoot(page, base, "/", "runs")
        failed = first_run_link(page, base, "ERROR")
        if failed:
            shoot(page, base, failed, "run-detail-failed")
            page.click("#steps button[data-dialog=dlg-fork] >> nth=-1")
            page.screenshot(path=str(OUT / "fork-dialog.png"))
        running = first_run_link(page, base, "RUNNING")
        if running:
            shoot(page, base, running, "run-detail-running")
        shoot(page, base, "/latency/", "latency")
        shoot(page, base, "/failures/", "failures")
        shoot(page, base, "/bulk/?action=resume&scope=matching&status=ERROR", "bulk-preview")
        if page.locator("#job button[type=submit]").count():
            page.fill("#job input[name=reason]", "payment gateway back up, INC-1042")
            page.click("#job button[type=submit]")
            page.wait_for_selector("#summary")
            page.screenshot(path=str(OUT / "bulk-done.png"), full_page=True)
        shoot(page, base, "/audit/", "audit")
        shoot(page, base, "/workers/", "workers")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8011")
