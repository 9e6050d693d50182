"""What a run published for others to read: its events and the latest values of its
streams, as bounded previews (`detail.previews`), every read on an index."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.queries.detail import previews
from dashboard.queries.sql import read_cursor
from durable.models import Event, StreamEntry

EVENT_LIMIT = 100
STREAM_LIMIT = 20
LATEST_VALUES = 5

STREAM_KEYS = """
-- stream_keys --
-- The run's stream names, one primary-key probe each (a skip scan, not a read of every
-- entry: a stream may hold a million tokens)
WITH RECURSIVE names AS (
    SELECT min(key) AS key FROM durable_streamentry WHERE run_id = %(run_id)s
    UNION ALL
    SELECT (SELECT min(key) FROM durable_streamentry
            WHERE run_id = %(run_id)s AND key > names.key)
    FROM names WHERE names.key IS NOT NULL)
SELECT key FROM names WHERE key IS NOT NULL LIMIT %(limit)s
"""


@dataclass
class StreamSummary:
    key: str
    count: int  # values written (offsets have no gaps; a close marker is not a value)
    closed: bool
    latest: list[StreamEntry]  # the last values, oldest first


def run_events(run_id: str) -> list[Event]:
    """The run's events by key (event_run_key_uniq), values as previews."""
    events = Event.objects.filter(run_id=run_id).defer("value").annotate(**previews("value"))
    return list(events.order_by("key")[:EVENT_LIMIT])


def run_streams(run_id: str) -> list[StreamSummary]:
    """Each stream's value count, whether it is closed, and its last few values."""
    with read_cursor() as cursor:
        cursor.execute(STREAM_KEYS, {"run_id": run_id, "limit": STREAM_LIMIT})
        keys = [row[0] for row in cursor.fetchall()]
    return [_summary(run_id, key) for key in keys]


def _summary(run_id: str, key: str) -> StreamSummary:
    tail = list(
        StreamEntry.objects.filter(run_id=run_id, key=key)
        .defer("value")
        .annotate(**previews("value"))
        .order_by("-offset")[: LATEST_VALUES + 1]
    )
    closed = tail[0].closed
    values = [entry for entry in tail if not entry.closed][:LATEST_VALUES]
    return StreamSummary(key, tail[0].offset + (0 if closed else 1), closed, values[::-1])
