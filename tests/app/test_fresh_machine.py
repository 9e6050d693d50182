"""The suite on a machine without Redis or RabbitMQ, and a killed pytest's leftovers."""

from __future__ import annotations

import signal
import subprocess
import sys

import psutil
import pytest
import redis

from tests.engine import brokers
from tests.engine.processes import PROJECT_DIR, wait_for

CLOSED = {"redis": "redis://127.0.0.1:1/5", "rabbitmq": "amqp://guest:guest@127.0.0.1:1//"}


def test_redis_cases_get_an_embedded_redis_when_none_answers(monkeypatch):
    monkeypatch.setitem(brokers.MACHINE, "redis", CLOSED["redis"])
    url = brokers.broker_url("redis")
    assert url != CLOSED["redis"]
    client = redis.Redis.from_url(url)
    try:
        assert client.ping()
    finally:
        client.close()


def test_rabbitmq_cases_skip_with_a_reason_when_none_answers(monkeypatch):
    monkeypatch.setitem(brokers.MACHINE, "rabbitmq", CLOSED["rabbitmq"])
    with pytest.raises(pytest.skip.Exception, match="no RabbitMQ answers at"):
        brokers.broker_url("rabbitmq")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_dies_with_the_killed_test_process():
    """What the Celery and crash tests' workers are started with (own session included)."""
    stand_in = (
        "import subprocess, sys, time\n"
        "from tests.engine.processes import die_with_parent\n"
        "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True, preexec_fn=die_with_parent)\n"
        "print(worker.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    test_process = subprocess.Popen(
        [sys.executable, "-c", stand_in], cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True
    )
    worker_pid = int(test_process.stdout.readline())
    assert not gone(worker_pid)
    test_process.send_signal(signal.SIGKILL)
    test_process.communicate(timeout=10)
    wait_for(lambda: gone(worker_pid), 5, "the worker to die with its parent")
