"""What step logs keep besides a sync step's `logging` records: `async def` steps' records
(per attempt, side by side in a gather), `print` when DURABLE_STEP_LOGS_PRINT asks for it,
and never the values of obvious secrets (DURABLE_STACK_REDACT)."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

import pytest
from celery.utils.log import LoggingProxy

import durable
from durable.core import _redaction as redaction
from durable.models import StepLog

pytestmark = pytest.mark.usefixtures("transactional_db")

teller = logging.getLogger("tests.teller")
teller.setLevel(logging.INFO)
ATTEMPTS: dict[str, int] = {}


@durable.step(name="tests.step_logs_capture.async_charge", retries=1, retry_delay=0.01)
async def async_charge(order: str) -> int:
    attempt = ATTEMPTS[order] = ATTEMPTS.get(order, 0) + 1
    teller.info("attempt %d charging %s", attempt, order)
    await asyncio.sleep(0.05)  # the other steps of the gather log meanwhile
    if attempt == 1 and order.endswith("-flaky"):
        raise RuntimeError("declined")
    teller.info("charged %s", order)
    return attempt


@durable.workflow(name="tests.step_logs_capture.async_orders")
async def async_orders(prefix: str) -> list[int]:
    return list(await asyncio.gather(*(async_charge(f"{prefix}-{n}") for n in ("a", "flaky"))))


@durable.step(name="tests.step_logs_capture.chatty")
def chatty(order: str) -> str:
    print("printing", order)
    print("no newline at the end", end="")
    teller.info("password=hunter2 token: abc123 user=ann for %s", order)
    teller.info('{"api_key": "k-9", "Authorization": "Bearer xyz"} sent')
    return order


@durable.workflow(name="tests.step_logs_capture.chatty")
def chatty_order(order: str) -> str:
    return chatty(order)


def kept(run_id: str) -> dict[tuple[int, int], list[str]]:
    return {
        (log.position, log.attempt): [record["message"] for record in log.records]
        for log in StepLog.objects.filter(run_id=run_id).order_by("position", "attempt")
    }


def test_async_steps_keep_their_records_per_attempt_each_under_its_own_step():
    ATTEMPTS.clear()
    durable.start(async_orders, "as-logs", run_id="as-logs").result(timeout=30)

    assert kept("as-logs") == {
        (0, 1): ["attempt 1 charging as-logs-a", "charged as-logs-a"],
        (1, 1): ["attempt 1 charging as-logs-flaky"],
        (1, 2): ["attempt 2 charging as-logs-flaky", "charged as-logs-flaky"],
    }


def test_print_is_kept_only_when_asked_for(settings, capsys):
    durable.start(chatty_order, "print-off", run_id="print-off").result(timeout=20)
    assert not any("printing" in m for m in kept("print-off")[(0, 1)])

    settings.DURABLE_STEP_LOGS_PRINT = True
    durable.start(chatty_order, "print-on", run_id="print-on").result(timeout=20)
    records = StepLog.objects.get(run_id="print-on").records
    printed = [(r["logger"], r["message"]) for r in records if r["logger"] == "print"]
    assert printed == [("print", "printing print-on"), ("print", "no newline at the end")]
    assert "printing print-on" in capsys.readouterr().out, "the program's output still goes out"

    settings.DURABLE_STEP_LOGS_PRINT = False  # stdout stays wrapped; the setting still rules
    durable.start(chatty_order, "print-off-again", run_id="print-off-again").result(timeout=20)
    assert not any("printing" in m for m in kept("print-off-again")[(0, 1)])


def test_printed_lines_count_against_the_same_bounds(settings):
    settings.DURABLE_STEP_LOGS_PRINT = True
    settings.DURABLE_STEP_LOGS_MAX_RECORDS = 1
    durable.start(chatty_order, "print-few", run_id="print-few").result(timeout=20)
    log = StepLog.objects.get(run_id="print-few")
    assert [r["message"] for r in log.records] == ["printing print-few"]
    assert log.dropped == 3


def test_obvious_secrets_in_log_lines_are_redacted():
    durable.start(chatty_order, "log-secrets", run_id="log-secrets").result(timeout=20)
    text = "\n".join(kept("log-secrets")[(0, 1)])
    for secret in ("hunter2", "abc123", "k-9", "xyz"):
        assert secret not in text
    assert "password=<redacted>" in text and "user=ann for log-secrets" in text
    assert '"api_key": <redacted>, "Authorization": <redacted>} sent' in text


def test_on_a_celery_worker_a_print_is_kept_once(settings, monkeypatch):
    """A Celery worker sends stdout to logging (worker_redirect_stdouts): with print capture
    on, the tee keeps the line and the record the redirect makes of it is not kept again."""
    redirected = logging.getLogger("celery.redirected")
    redirected.setLevel(logging.INFO)
    monkeypatch.setattr(sys, "stdout", LoggingProxy(redirected, logging.WARNING))
    settings.DURABLE_STEP_LOGS_PRINT = True
    durable.start(chatty_order, "print-celery", run_id="print-celery").result(timeout=20)
    printed = [m for m in kept("print-celery")[(0, 1)] if "printing" in m]
    assert printed == ["printing print-celery"]


@pytest.mark.parametrize(
    "line, shown",
    [
        ("password=hunter2 user=ann", "password=<redacted> user=ann"),
        (
            "url=https://bank/pay?token=abc&amount=3",
            "url=https://bank/pay?token=<redacted>&amount=3",
        ),
        ("DB_PASSWORD: 's3 cret', next", "DB_PASSWORD: <redacted>, next"),
        ("Authorization: Bearer xyz", "Authorization: Bearer <redacted>"),
        ('{"api_key": "k-9"}', '{"api_key": <redacted>}'),
        ("monkey=banana keychain", "monkey=<redacted> keychain"),
        ("no secrets here", "no secrets here"),
    ],
)
def test_redaction_finds_secret_names_inside_values_and_words(line, shown):
    assert redaction.redact_message(line) == shown


@pytest.mark.parametrize("line", ["a" * 20_000, "key" * 7_000, "x.key-" * 4_000 + "="])
def test_redacting_a_long_line_takes_linear_time(line):
    """It runs in the step's own thread for every kept record: a long word (a blob, an id
    list) must not cost it seconds. 20 KB took ~30 s with the first pattern."""
    started = time.perf_counter()
    redaction.redact_message(line)
    assert time.perf_counter() - started < 0.5
