"""Executor identity: who owns a run, and whether that owner is still alive."""

from __future__ import annotations

import os
import socket
import uuid


def new_executor_id(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def hostname() -> str:
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    """Whether `pid` is a live process on this host (another incarnation of us is not)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
