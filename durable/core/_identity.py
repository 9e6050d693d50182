"""Executor identity: the id an executor claims runs with, and the host it names (in its
heartbeat, and in the claims counted against a queue's per-worker limit)."""

from __future__ import annotations

import os
import socket
import uuid


def new_executor_id(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def hostname() -> str:
    return socket.gethostname()
