"""The database router behind DURABLE_READ_DATABASE: a page's reads go to the replica.

Add it to the host's settings (`DATABASE_ROUTERS = ["durable.routers.ReadReplicaRouter"]`,
docs/replica.md). Reads of Durable's and the dashboard's tables go to the read replica only
inside a page that asked for it (`durable.observability.inspection.replica_reads`); every
other read (the engine, operator actions, a bulk job's selection) and every write go to the
primary, so nothing is ever changed on what a replica showed. Other apps (users, sessions)
are left to Django: a session just written must be read back.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS

from durable.core.conf import settings
from durable.core.store import _reading as reading

APPS = frozenset({"durable", "dashboard"})


class ReadReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if model._meta.app_label not in APPS:
            return None
        return reading.read_alias()  # the primary unless a page reads the replica

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        # also for an object a page read from the replica: it is saved on the primary
        return DEFAULT_DB_ALIAS if model._meta.app_label in APPS else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True if {obj1._meta.app_label, obj2._meta.app_label} <= APPS else None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if settings.DURABLE_READ_DATABASE and db == settings.DURABLE_READ_DATABASE:
            return False  # a replica follows the primary's schema; it cannot be migrated
        return None
