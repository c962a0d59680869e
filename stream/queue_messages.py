"""Queue updates on the internal queue topic: JSON, split to stay well under Kafka's limits.

Usage::

    for value in encode_update(update):           # usually one message
        send(topic, key=update.queue.encode(), value=value)
    decode_update(key.decode(), value)            # the QueueUpdate (or a part of it)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from metrics.agents import Told, told_from_json
from metrics.callers import Verdict
from metrics.steps.messages import QueueUpdate
from metrics.visits import Visit

MAX_QUEUE_MESSAGE_BYTES = 256 * 1024  # a quarter of the producer's and Kafka's default limit


def encode_update(update: QueueUpdate) -> list[bytes]:
    """The update as messages of at most :data:`MAX_QUEUE_MESSAGE_BYTES` each.

    Usually one; halved until each fits, so that a batch with thousands of calls of one queue
    never makes a message Kafka refuses (each carries full states, so a queue applies the
    parts as it would the whole).
    """
    return _messages(update.kind, update.states)


def _messages(kind: str, states: Sequence[Visit | Told | Verdict]) -> list[bytes]:
    return split_encoded([state.to_json() for state in states], lambda rows: orjson.dumps([kind, rows]))


def split_encoded(rows: Sequence[Any], dump: Callable[[Sequence[Any]], bytes]) -> list[bytes]:
    """``dump`` of the rows, halved until each message is at most :data:`MAX_QUEUE_MESSAGE_BYTES`."""
    message = dump(rows)
    if len(message) <= MAX_QUEUE_MESSAGE_BYTES or len(rows) <= 1:
        return [message]
    half = len(rows) // 2
    return split_encoded(rows[:half], dump) + split_encoded(rows[half:], dump)


_DECODERS: dict[str, Callable[[Any], Visit | Told | Verdict]] = {
    "visits": Visit.from_json,
    "agents": told_from_json,
    "verdicts": Verdict.from_json,
}


def decode_update(queue: str, value: bytes) -> QueueUpdate:
    kind, rows = orjson.loads(value)
    load = _DECODERS[kind]
    return QueueUpdate(queue, kind, [load(row) for row in rows])  # type: ignore[arg-type]
