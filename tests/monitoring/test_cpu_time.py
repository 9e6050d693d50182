"""Each checkpoint records the attempt's CPU time beside its wall time, so a slow step reads
as working (CPU) or waiting (I/O, locks)."""

from __future__ import annotations

import re

from django.contrib.auth.models import Permission, User
from django.test import Client

import durable
from durable.models import Step
from tests.monitoring.workflows import work_and_wait


def test_a_step_records_its_cpu_time_beside_its_wall_time(transactional_db):
    durable.run(work_and_wait, 0.15, run_id="cpu-1")
    burn, wait = Step.objects.filter(run_id="cpu-1").order_by("position")
    assert 150 <= burn.cpu_ms <= burn.duration_ms + 1
    assert wait.duration_ms >= 150
    assert wait.cpu_ms < 0.2 * wait.duration_ms


def test_latency_page_shows_each_steps_cpu_share(transactional_db):
    durable.run(work_and_wait, 0.1, run_id="cpu-2")
    user = User.objects.create_user("viewer", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename="view_runs"))
    client = Client()
    client.force_login(user)
    page = client.get("/latency/?window=1h").content.decode()
    table = page[page.index('id="checkpoint-sizes"') :]
    shares = dict(re.findall(r'<td title="([^"]+)">.*?(\d+)%</td>', table, re.S))
    burn, wait = (int(shares[f"tests.monitoring.workflows.{name}"]) for name in ("burn", "wait"))
    assert wait <= 20 < burn or wait < 5 < burn  # a loaded machine stretches burn's wall time
