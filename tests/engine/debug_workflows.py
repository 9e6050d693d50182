"""Workflows the debugging tests take apart: a checkout that fails at its charge step."""

from __future__ import annotations

import durable
from tests.conftest import record_side_effect

# switches a test flips to play "the code changed since the run was recorded"
CHANGES: dict[str, bool] = {"rename_quote": False, "double_amount": False}


class PaymentDeclined(Exception):
    pass


@durable.step(idempotent=True)
def fetch_quote(order_id: str) -> dict:
    record_side_effect(order_id, "fetch_quote")
    return {"order": order_id, "amount": 120, "currency": "EUR"}


@durable.step(name="tests.debug.lookup_quote")
def lookup_quote(order_id: str) -> dict:
    return {"order": order_id, "amount": 120, "currency": "EUR"}


@durable.step()
def charge_payment(order_id: str, amount: int) -> dict:
    record_side_effect(order_id, "charge_payment")
    if amount > 100:
        raise PaymentDeclined(f"amount {amount} is over the card limit 100")
    return {"charged": amount}


@durable.transaction()
def save_receipt(order_id: str, charged: dict) -> str:
    record_side_effect(order_id, "save_receipt")
    return f"receipt-{order_id}"


@durable.workflow(name="tests.debug.checkout")
def checkout(order_id: str, note: str = "") -> str:
    quote = lookup_quote(order_id) if CHANGES["rename_quote"] else fetch_quote(order_id)
    amount = quote["amount"] * (2 if CHANGES["double_amount"] else 1)
    charged = charge_payment(order_id, amount)
    return save_receipt(order_id, charged)


@durable.workflow(name="tests.debug.batch")
def batch(order_ids: list[str]) -> list[str]:
    return [checkout.start(order_id, run_id=f"batch-{order_id}").run_id for order_id in order_ids]
