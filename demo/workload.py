"""A steady stream of demo runs for the quick start's live dashboard."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import durable
from demo.workflows import process_order, train_model

CUSTOMERS = ["acme", "globex", "initech", "umbrella", "hooli"]
PRODUCTS = ["keyboard", "monitor", "mouse", "laptop", "dock", "headset"]
DATASETS = ["clickstream", "fraud-signals", "churn", "recommendations"]


def start_order() -> None:
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
    )


def start_training() -> None:
    dataset = random.choice(DATASETS)
    durable.start(train_model, dataset, random.randint(2, 5), tags={"team": "ml"})


def seed(count: int, progress: Callable[[int, int], None] | None = None) -> None:
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
