"""Workflows the client tests start by name from a process that never imports this module."""

from __future__ import annotations

import durable


@durable.step()
def total(numbers: list[int]) -> int:
    return sum(numbers)


@durable.workflow(name="tests.client.approval")
def approval(order: str, numbers: list[int], *, currency: str = "EUR") -> dict:
    """Publishes its total, waits for a decision message, returns both."""
    amount = total(numbers)
    durable.set_event("total", {"amount": amount, "currency": currency})
    decision = durable.recv("decision", timeout=30)
    return {"order": order, "amount": amount, "decision": decision}


@durable.workflow(name="tests.client.refuses")
def refuses(reason: str) -> None:
    raise ValueError(reason)


@durable.workflow(name="tests.client.double")
def double(number: int) -> int:
    return 2 * number


@durable.workflow(name="tests.client.fan_out")
def fan_out(numbers: list[int]) -> list[int]:
    """Starts its children by name, as a workflow calling another service's workflow would."""
    from durable import client

    handles = [client.start("tests.client.double", [number]) for number in numbers]
    return [handle.result(timeout=30) for handle in handles]
