"""Screenshots of the debugging walkthrough (README "Debugging a failed run").

With a failed run `train-reviews-1` and a patched fork of it (see the README commands):
python manage.py runserver 127.0.0.1:8017 &
python docs/screenshots/capture_debugging.py http://127.0.0.1:8017 train-reviews-1 FORK_ID
"""

from __future__ import annotations

import sys

from capture import CHROMIUM_ARGS, OUT, shoot
from playwright.sync_api import sync_playwright


def main(base: str, failed: str, fork: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + "/accounts/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "admin")
        page.click("button[type=submit]")
        shoot(page, base, f"/compare/{failed}", "debug-compare", full_page=False)
        page.goto(f"{base}/edit-output/2/{failed}")
        page.fill("#id_output", '{\n  "epoch": 0,\n  "loss": 0.05\n}')
        page.screenshot(path=str(OUT / "debug-edit-output.png"))
        shoot(page, base, f"/runs/{fork}/", "debug-patched-fork")
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
