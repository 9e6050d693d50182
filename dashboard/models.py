"""The dashboard's two permissions; it owns no tables of its own (it reads durable's)."""

from __future__ import annotations

from django.db import models

VIEW_RUNS = "dashboard.view_runs"
OPERATE_RUNS = "dashboard.operate_runs"


class DashboardAccess(models.Model):
    """A table-less anchor for the permissions: `view_runs` and `operate_runs`."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_runs", "Can view runs, steps, latency, failures and the audit log"),
            ("operate_runs", "Can cancel, resume, restart and fork runs, one or in bulk"),
        ]
