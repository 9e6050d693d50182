"""The latency page lists each step's average and largest checkpoint, largest first."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.dashboard.conftest import make_run, make_step


def stored_size(run_id: str, position: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_size(output) FROM durable_step WHERE run_id = %s AND position = %s",
            [run_id, position],
        )
        return cursor.fetchone()[0]


def test_latency_page_shows_average_and_largest_checkpoint_per_step(db):
    for index, words in enumerate((10, 300)):
        run = make_run(id=f"size-{index}")
        make_step(run, 0, name="shop.small", output={"ok": index})
        make_step(
            run, 1, name="shop.report", output={"rows": [f"r{n}x{index}" for n in range(words)]}
        )
    user = User.objects.create_user("viewer", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename="view_runs"))
    client = Client()
    client.force_login(user)
    page = client.get("/latency/?window=1h").content.decode()
    table = page[page.index('id="checkpoint-sizes"') :]
    names = re.findall(r'<td title="([^"]+)">', table)
    assert names[:2] == ["shop.report", "shop.small"]
    small, large = stored_size("size-0", 1), stored_size("size-1", 1)
    average = Decimal(small + large) / 2  # the page rounds half up, as Django's floatformat
    assert f"{average.quantize(Decimal(1), ROUND_HALF_UP):,} B" in table
    assert large > 2 * small


def test_sizes_come_from_the_newest_checkpoints_and_the_page_says_how_many(db, monkeypatch):
    """Sizes read each output from the heap: a busy day's window is bounded to its newest
    checkpoints (so the page costs the same at any volume), and the heading says so."""
    from dashboard.queries import checkpoint_sizes

    monkeypatch.setattr(checkpoint_sizes, "NEWEST", 2)
    now = timezone.now()
    run = make_run(id="size-newest")
    make_step(run, 0, name="shop.old_big", output={"rows": ["x" * 40] * 50},
              finished_at=now - timedelta(minutes=30))  # fmt: skip
    for position in (1, 2):
        make_step(run, position, name="shop.recent", finished_at=now - timedelta(minutes=1))
    user = User.objects.create_user("viewer", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename="view_runs"))
    client = Client()
    client.force_login(user)
    page = client.get("/latency/?window=1h").content.decode()
    panel = page[
        page.index("Checkpoint sizes") : page.index("</table>", page.index("Checkpoint sizes"))
    ]
    assert re.findall(r'<td title="([^"]+)">', panel) == ["shop.recent"]
    assert "the newest 2 checkpoints of the window" in panel
