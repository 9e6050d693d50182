"""`manage.py embedded_db status|stop|reset`: this repository's embedded PostgreSQL.

`reset` is the safe "start over": it stops the server before deleting its data.
"""

from __future__ import annotations

import argparse
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config import embedded_server


class Command(BaseCommand):
    help = "Status, stop or reset (stop, then delete the data) of the embedded PostgreSQL."
    requires_system_checks: list[str] = []  # never connect: that would start the server

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=["status", "stop", "reset"])

    def handle(self, *args, action: str, **options) -> None:
        if os.environ.get("DATABASE_URL"):
            raise CommandError("DATABASE_URL is set: this project uses that server, not the "
                               "embedded one; unset it to manage the embedded server")  # fmt: skip
        data = embedded_server.data_dir(settings.BASE_DIR)
        if action == "status":
            self._status(data)
        elif action == "stop":
            stopped = embedded_server.stop(data)
            self.stdout.write("stopped" if stopped else "not running")
        else:
            embedded_server.reset(data)
            self.stdout.write(f"stopped and deleted {data / 'pgdata'}")

    def _status(self, data) -> None:
        state = embedded_server.status(data)
        if not state.running:
            self.stdout.write(f"not running (data in {data})")
            return
        users = ", ".join(map(str, state.users)) or "none"
        self.stdout.write(f"running: pid {state.pid}, socket {state.socket_dir}, data in "
                          f"{data}; processes using it: {users}")  # fmt: skip
