"""Which test tier this run is (fast or full) and what that changes for property tests.

A bare `pytest` runs the fast tier, a first green in minutes; `--full`, DURABLE_FULL_TESTS=1,
an explicit -m or named files run every tier (what `.ci/run` does). conftest.py records the
tier in DURABLE_TEST_TIER before any test module is imported, so a module can size its
hypothesis examples at import time with `examples(n)`: the full tier tries all `n`, the fast
tier a tenth (at least 10), enough to catch a broken contract quickly; CI keeps the depth.
"""

from __future__ import annotations

import os

TIER_VARIABLE = "DURABLE_TEST_TIER"
FAST_SHARE = 10  # the fast tier tries 1/FAST_SHARE of a property test's examples
FAST_FLOOR = 10


def fast_tier() -> bool:
    """True when this run is the fast tier (set by conftest.py; full when unknown)."""
    return os.environ.get(TIER_VARIABLE) == "fast"


def examples(full: int, variable: str | None = None) -> int:
    """Examples for a property test: `full` in the full tier, a tenth of it in the fast tier.

    A number set in the environment `variable` (e.g. DURABLE_FUZZ_EXAMPLES=20000 for a long
    fuzz) is taken as it is, in either tier.
    """
    if variable and os.environ.get(variable):
        return int(os.environ[variable])
    if fast_tier():
        return min(full, max(FAST_FLOOR, full // FAST_SHARE))
    return full
