"""Encoding events as contract CloudEvents (the inverse of :mod:`metrics.contract.decode`)."""

from __future__ import annotations

from typing import Any

import orjson

from metrics.contract.events import DATA_FIELDS, Event
from metrics.timeutil import format_us


def to_cloudevent(event: Event) -> dict[str, Any]:
    """The structured-mode CloudEvent for ``event``.

    >>> to_cloudevent(Event("e1", "call.abandoned", 0, "pbx", call_id="c1", queue="q"))["data"]
    {'call_id': 'c1', 'queue': 'q'}
    """
    required, optional = DATA_FIELDS[event.type]
    data: dict[str, Any] = {}
    for name in (*required, *optional):
        value = getattr(event, name, None)
        if value is not None and value is not False:
            data[name] = list(value) if isinstance(value, tuple) else value
    return {
        "specversion": "1.0",
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": format_us(event.time_us),
        "data": data,
    }


def to_json_line(event: Event) -> bytes:
    """One JSON line (no newline) for a file or a Kafka message value."""
    return orjson.dumps(to_cloudevent(event))


def kafka_key(event: Event) -> bytes:
    """The contract's Kafka key: the call id on the calls topic, the agent id on the agents topic."""
    key = event.agent_id if event.type == "agent.state" else event.call_id
    assert key is not None
    return key.encode()
