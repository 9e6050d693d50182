"""Every operator action takes a reason from the terminal too, recorded in the audit log."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from durable.models import AuditEntry
from tests.dashboard.conftest import make_failed_run

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("action", ["resume", "restart", "fork"])
def test_an_action_from_the_cli_records_its_reason(action):
    make_failed_run(id="r", workflow="not.registered")
    call_command("durable", action, "r", "--reason", "INC-5 fixed", stdout=io.StringIO())
    assert AuditEntry.objects.get(action=action).detail["reason"] == "INC-5 fixed"
