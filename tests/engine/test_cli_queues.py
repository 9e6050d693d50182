"""`manage.py durable queues list|set|reset`: stored queue limits from the terminal."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from durable.models import AuditEntry
from durable.queues import _limits as queue_limits
from durable.queues._limits import Limits


def durable_command(*args: str) -> str:
    out = io.StringIO()
    call_command("durable", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def payments(transactional_db):
    queue_limits.declare(Limits("payments", concurrency=4, rate_limit=(50, 60.0)), "shop.queues")
    return "payments"


def test_list_shows_each_queue_with_its_limits_and_where_they_come_from(payments):
    output = durable_command("queues", "list")
    assert "payments: concurrency=4 worker_concurrency=none rate_limit=50/60s" in output
    assert "declared in shop.queues" in output


def test_set_overrides_the_given_limits_and_is_audited(payments):
    change = ["--rate-limit", "10/1", "--worker-concurrency", "2", "--actor", "ops"]
    output = durable_command("queues", "set", "payments", *change, "--reason", "quota")
    assert "concurrency=4 worker_concurrency=2 rate_limit=10/1s" in output
    assert queue_limits.stored("payments") == Limits("payments", 4, 2, (10, 1.0))
    assert "override by ops" in durable_command("queues", "list")
    entry = AuditEntry.objects.get(action="queue_set_limits")
    assert (entry.actor, entry.detail["reason"]) == ("ops", "quota")


def test_none_lifts_a_limit(payments):
    durable_command("queues", "set", "payments", "--concurrency", "none", "--rate-limit", "off")
    assert queue_limits.stored("payments") == Limits("payments")


def test_reset_returns_the_queue_to_its_declaration(payments):
    durable_command("queues", "set", "payments", "--concurrency", "1")
    output = durable_command("queues", "reset", "payments")
    assert "payments: concurrency=4" in output
    assert queue_limits.stored("payments").concurrency == 4


@pytest.mark.parametrize(
    "arguments",
    [
        ["--concurrency", "0"],
        ["--concurrency", "many"],
        ["--rate-limit", "50"],
        ["--rate-limit", "0/60"],
        ["--priority", "maybe"],
    ],
)
def test_bad_limits_are_refused_and_nothing_changes(payments, arguments):
    with pytest.raises((CommandError, SystemExit)):
        durable_command("queues", "set", "payments", *arguments)
    assert queue_limits.stored("payments") == Limits("payments", 4, None, (50, 60.0))


def test_reset_of_an_unknown_queue_is_a_clear_error(transactional_db):
    with pytest.raises(CommandError, match="durable queues list"):
        durable_command("queues", "reset", "nowhere")
