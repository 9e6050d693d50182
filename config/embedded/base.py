"""PostgreSQL's backend, but the server starts on the first connection, not on import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.backends.postgresql import base

from config import embedded_server
from config.embedded.client import DatabaseClient


class DatabaseWrapper(base.DatabaseWrapper):
    client_class = DatabaseClient

    def get_connection_params(self) -> dict[str, Any]:
        socket_dir = embedded_server.ensure_running(Path(self.settings_dict["DATA_DIR"]))
        # HOST is known only now; tests hand it to worker subprocesses via DATABASE_URL
        self.settings_dict["HOST"] = socket_dir
        return super().get_connection_params()
