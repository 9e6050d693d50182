"""Executor identity: who owns a run, and whether that owner is still alive."""

from __future__ import annotations

import os
import socket
import uuid


def new_executor_id(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def hostname() -> str:
    return socket.gethostname()
