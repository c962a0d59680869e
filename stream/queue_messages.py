"""Queue updates on the internal queue topic: JSON, split to stay well under Kafka's limits.

Usage::

    for value in encode_update(update):           # usually one message
        send(topic, key=update.queue.encode(), value=value)
    decode_update(key.decode(), value)            # the QueueUpdate (or a part of it)
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from metrics.agents import AgentHistory
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


def _messages(kind: str, states: Sequence[Visit | AgentHistory]) -> list[bytes]:
    message = orjson.dumps([kind, [state.to_json() for state in states]])
    if len(message) <= MAX_QUEUE_MESSAGE_BYTES or len(states) == 1:
        return [message]
    half = len(states) // 2
    return _messages(kind, states[:half]) + _messages(kind, states[half:])


def decode_update(queue: str, value: bytes) -> QueueUpdate:
    kind, rows = orjson.loads(value)
    if kind == "visits":
        return QueueUpdate(queue, kind, [Visit.from_json(row) for row in rows])
    return QueueUpdate(queue, kind, [AgentHistory.from_json(row) for row in rows])
