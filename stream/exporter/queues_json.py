"""``/api/v1/queues``: the latest queue snapshot as JSON, for the wallboard page and integrations.

The same snapshot and the same numbers as ``/metrics``: each value is named as the family that
carries it there without its ``callcenter_`` prefix (``service_level_ratio`` is
``callcenter_service_level_ratio{queue, window}``). Times are RFC 3339 UTC, durations seconds,
ratios 0..1; an undefined value (a ratio of 0 / 0) is ``null``. ``docs/api/queues.schema.json``
describes the document. Usage::

    body = queues_document(snapshot, stale_after_seconds=30.0)   # bytes
"""

from __future__ import annotations

from typing import Any

import orjson

from metrics.snapshot import QueueSnapshot, Snapshot, WindowValues
from metrics.timeutil import US, format_us
from stream.exporter.catalogue import COUNTS, DERIVED, REPEAT_COUNTS, STAFFING, has_callers


def queues_document(snapshot: Snapshot, stale_after_seconds: float) -> bytes:
    """The whole document: when, how fresh the feed is, and every queue the worker owns."""
    newest = snapshot.pipeline.last_event_us
    return orjson.dumps(
        {
            "at": format_us(snapshot.at_us),
            "newest_event": None if newest is None else format_us(newest),
            "feed_silent_seconds": None if newest is None else max(0, snapshot.at_us - newest) / US,
            "stale_after_seconds": stale_after_seconds,
            "queues": [_queue(q) for q in snapshot.queues],
        }
    )


def _queue(queue: QueueSnapshot) -> dict[str, Any]:
    return {
        "queue": queue.queue,
        "timezone": queue.timezone,
        "service_level_threshold_seconds": queue.threshold_seconds,
        "service_level_target_ratio": queue.target_ratio,
        "waiting_calls": queue.waiting,
        "longest_wait_seconds": queue.longest_wait_seconds,
        "agents": queue.agents,
        "agents_away": queue.away_by_reason,
        "windows": {name: _window(queue, name, values) for name, values in queue.windows.items()},
    }


def _window(queue: QueueSnapshot, name: str, values: WindowValues) -> dict[str, Any]:
    found: dict[str, Any] = {suffix: values[slot] for suffix, slot, _ in COUNTS}
    found.update((suffix, derive(values)) for suffix, derive, _ in DERIVED)
    found["flowed_out_by_reason_calls"] = values.flowed_out_by_reason()
    found["survey_responses"] = values.survey_responses()
    known = has_callers(queue)  # as on /metrics: null until the queue's first identified call
    found.update((suffix, count(values) if known else None) for suffix, count, _ in REPEAT_COUNTS)
    found["occupancy_ratio"] = queue.occupancy_ratio(name)
    need = queue.staffing(name)
    found.update((suffix, None if need is None else value_of(need)) for suffix, value_of, _ in STAFFING)
    return found
