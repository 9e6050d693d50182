"""Failure fingerprints group messages that differ only in their data, as error trackers do."""

from __future__ import annotations

import pytest

from durable.core._serialization import fingerprint

SAME = [
    ("852 rows of churn have null labels", "95 rows of clickstream have null labels"),
    ("card declined for order 42", "card declined for order 7"),
    ("user 'alice' not found", 'user "bob" not found'),
    ("table churn_v2 is locked", "table clickstream_2024 is locked"),
    (
        "no such run 3f2b9c1e-8d4a-4b7e-9c2d-1a2b3c4d5e6f",
        "no such run 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    ),
    ("deadline 2026-11-29T09:15:02.123Z passed", "deadline 2026-11-30 10:00:00+00:00 passed"),
    ("bad object at 0x7f3a2c1b4e50", "bad object at 0x7f99aa001234"),
    ("commit deadbeef1234 not found", "commit 0badf00d9876 not found"),
    ("cannot open /data/exports/2026/churn.csv", "cannot open /srv/tmp/clickstream.parquet"),
    (
        "timeout after 30.5 s calling https://api.example.com/v1/x",
        "timeout after 2 s calling http://10.0.0.7:8080/y",
    ),
    ("customer acme over quota", "customer globex over quota"),
    ("mail to a.b@example.com bounced", "mail to zed@corp.io bounced"),
    ("KeyError on orderId", "KeyError on customerRef"),
    ("out of stock: sku-1234", "out of stock: sku-99"),
]

DIFFERENT = [
    ("connection refused", "connection reset by peer"),
    ("card declined for order 42", "card expired for order 42"),
    ("852 rows of churn have null labels", "852 rows of churn have duplicate ids"),
    ("table churn is locked", "table churn is missing"),
    ("disk full", "permission denied"),
]


@pytest.mark.parametrize(("first", "second"), SAME)
def test_messages_that_differ_only_in_data_share_a_fingerprint(first, second):
    assert fingerprint("E", first) == fingerprint("E", second)


@pytest.mark.parametrize(("first", "second"), DIFFERENT)
def test_messages_that_say_different_things_do_not(first, second):
    assert fingerprint("E", first) != fingerprint("E", second)


def test_the_error_type_is_part_of_the_fingerprint():
    assert fingerprint("ValueError", "boom") != fingerprint("KeyError", "boom")
