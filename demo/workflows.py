"""Realistic demo workflows: an order pipeline and a model-training pipeline.

Failures are random but plausible (declined cards, flaky gateways, bad data), so the
dashboard has retries, errors and slow steps to show.
"""

from __future__ import annotations

import random
import time

import durable


class PaymentDeclined(Exception):
    """The card issuer said no; retrying will not help."""


class GatewayTimeout(Exception):
    """The payment gateway did not answer in time; a retry usually works."""


class OutOfStock(Exception):
    pass


class DataValidationError(Exception):
    pass


def _work(low: float, high: float) -> None:
    time.sleep(random.uniform(low, high))


@durable.step()
def reserve_inventory(order_id: int, items: list[str]) -> dict:
    _work(0.05, 0.3)
    if random.random() < 0.04:
        raise OutOfStock(f"item '{random.choice(items)}' is out of stock for order {order_id}")
    return {"reservation": f"res-{order_id}", "items": items}


@durable.step(retries=3, backoff=2.0, retry_delay=0.3)
def charge_payment(order_id: int, amount: float) -> dict:
    _work(0.1, 0.5)
    if random.random() < 0.25:
        raise GatewayTimeout(f"gateway timed out after 3000 ms charging order {order_id}")
    if random.random() < 0.05:
        raise PaymentDeclined(f"card declined for order {order_id}: insufficient funds")
    return {"charge_id": f"ch_{order_id}_{random.randint(1000, 9999)}", "amount": amount}


@durable.transaction()
def mark_paid(order_id: int, charge_id: str) -> str:
    _work(0.01, 0.05)
    return f"order {order_id} paid with {charge_id}"


@durable.step(retries=2, retry_delay=0.2)
def send_confirmation_email(order_id: int, email: str) -> str:
    _work(0.05, 0.2)
    if random.random() < 0.05:
        raise ConnectionError(f"SMTP server refused connection for {email}")
    return f"sent to {email}"


@durable.workflow(name="orders.process_order")
def process_order(order_id: int, amount: float, items: list[str], email: str) -> dict:
    reservation = reserve_inventory(order_id, items)
    charge = charge_payment(order_id, amount)
    mark_paid(order_id, charge["charge_id"])
    send_confirmation_email(order_id, email)
    return {"order_id": order_id, "charge": charge, "reservation": reservation["reservation"]}


@durable.step()
def extract_dataset(dataset: str) -> dict:
    _work(0.5, 1.5)
    return {"dataset": dataset, "rows": random.randint(50_000, 500_000)}


@durable.step()
def validate_dataset(summary: dict) -> dict:
    _work(0.2, 0.6)
    if random.random() < 0.08:
        bad = random.randint(1, 900)
        raise DataValidationError(f"{bad} rows of {summary['dataset']} have null labels")
    return {**summary, "valid": True}


@durable.step()
def train_epoch(dataset: str, epoch: int) -> dict:
    _work(0.8, 2.5)
    return {"epoch": epoch, "loss": round(1.0 / (epoch + 1) + random.random() * 0.05, 4)}


@durable.step(retries=1, retry_delay=0.5)
def evaluate_model(dataset: str, final_loss: float) -> dict:
    _work(0.3, 1.0)
    accuracy = round(0.99 - final_loss / 3 - random.random() * 0.1, 4)
    if accuracy < 0.82:
        raise ValueError(f"accuracy {accuracy} is below the 0.82 release threshold")
    return {"accuracy": accuracy}


@durable.step()
def publish_model(dataset: str, accuracy: float) -> str:
    _work(0.1, 0.3)
    return f"s3://models/{dataset}/model-{int(accuracy * 1000)}.bin"


@durable.workflow(name="ml.train_model")
def train_model(dataset: str, epochs: int = 3) -> dict:
    summary = validate_dataset(extract_dataset(dataset))
    loss = 1.0
    for epoch in range(epochs):
        loss = train_epoch(dataset, epoch)["loss"]
        durable.write_stream("loss", loss)  # callers follow it: durable.read_stream(id, "loss")
        durable.set_event("progress", f"epoch {epoch + 1} of {epochs}")
    durable.close_stream("loss")
    metrics = evaluate_model(dataset, loss)
    uri = publish_model(dataset, metrics["accuracy"])
    return {"rows": summary["rows"], "accuracy": metrics["accuracy"], "model": uri}


@durable.step()
def summarize_orders(window: str) -> dict:
    _work(0.1, 0.4)
    return {"window": window, "orders": random.randint(20, 400)}


@durable.workflow(name="reports.order_summary")
def order_summary(scheduled_at: str, region: str) -> dict:
    """Started by the demo's dynamic schedule (durable.schedules.create), one run per tick."""
    return {"region": region, **summarize_orders(scheduled_at)}
