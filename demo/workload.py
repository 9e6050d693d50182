"""A steady stream of demo runs for the quick start's live dashboard."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable

import durable
from demo.workflows import order_summary, process_order, train_model
from durable.errors import ScheduleConflictError

CUSTOMERS = ["acme", "globex", "initech", "umbrella", "hooli"]
PRODUCTS = ["keyboard", "monitor", "mouse", "laptop", "dock", "headset"]
DATASETS = ["clickstream", "fraud-signals", "churn", "recommendations"]


def start_order(delay: float | None = None) -> None:
    """An order, now or (a pre-order) after `delay` seconds: the dashboard shows its due time."""
    order_id = random.randint(10_000, 99_999)
    customer = random.choice(CUSTOMERS)
    durable.start(
        process_order,
        order_id,
        round(random.uniform(9, 900), 2),
        random.sample(PRODUCTS, k=random.randint(1, 3)),
        f"buyer{order_id}@{customer}.example",
        run_id=f"order-{order_id}",
        tags={"customer": customer},
        delay=delay,
    )


def start_training() -> None:
    dataset = random.choice(DATASETS)
    durable.start(train_model, dataset, random.randint(2, 5), tags={"team": "ml"})


def ensure_schedule() -> None:
    """A schedule stored in PostgreSQL (pause, resume or trigger it on the Health page)."""
    # made by an earlier demo: kept as the operators left it (paused or not)
    with contextlib.suppress(ScheduleConflictError):
        durable.schedules.create(
            "order-summary-emea", order_summary, cron="*/2 * * * *", args=["emea"],
            actor="demo", reason="demo workload",
        )  # fmt: skip


def seed(count: int, progress: Callable[[int, int], None] | None = None) -> None:
    ensure_schedule()
    for index in range(count):
        start_training() if index % 8 == 0 else start_order()
        if progress is not None:
            progress(index + 1, count)


def run_forever(stop: threading.Event) -> None:
    tick = 0
    while not stop.wait(1.5):
        start_order()
        tick += 1
        if tick % 6 == 0:
            start_training()
        if tick % 10 == 0:
            start_order(delay=random.uniform(30, 180))
