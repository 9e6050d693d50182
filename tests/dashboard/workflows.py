"""Small workflows the dashboard tests run for real: one that fails when told to."""

from __future__ import annotations

import durable


class CardDeclined(Exception):
    pass


@durable.step()
def reserve(order_id: int) -> str:
    return f"res-{order_id}"


@durable.step()
def charge(order_id: int, fail: bool) -> str:
    if fail:
        raise CardDeclined(f"card declined for order {order_id}")
    return f"ch-{order_id}"


@durable.step()
def ship(order_id: int) -> str:
    return f"shipped {order_id}"


@durable.workflow(name="dashtests.order")
def order(order_id: int, fail: bool = False) -> dict:
    """Fails at step 1 (charge) when `fail` is true; forking with fail=false completes it."""
    reservation = reserve(order_id)
    charge_id = charge(order_id, fail)
    return {"reservation": reservation, "charge": charge_id, "shipped": ship(order_id)}


OUTAGE = {"on": True}


@durable.step()
def call_provider(order_id: int) -> str:
    if OUTAGE["on"]:
        raise CardDeclined(f"provider down for order {order_id}")
    return f"ok-{order_id}"


@durable.workflow(name="dashtests.outage")
def outage_order(order_id: int) -> str:
    """Fails while OUTAGE is on; resumed after it ends, it succeeds."""
    reserve(order_id)
    return call_provider(order_id)


@durable.step(retries=3, retry_delay=30.0)
def patient_call(order_id: int) -> str:
    """Retried after 30 s: the waiting reason says when the next attempt starts."""
    return f"called {order_id}"
