"""Messages of the internal callers topic: calls queued by named callers, one message per partition.

The callers topic is partitioned by the caller's hash with our own producer's partitioner
(:meth:`stream.topology.Topology.caller_partition`): each caller's calls meet in one partition,
whatever queues and call partitions they came from. Only the hash travels, never the caller.
Usage::

    for value in encode_marks(marks):           # usually one message
        send(topic, partition, value)
    decode_marks(value)                          # the CallerMark list
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from metrics.callers import CallerMark
from stream.queue_messages import split_encoded


def encode_marks(marks: Sequence[CallerMark]) -> list[bytes]:
    """The marks as messages of a bounded size (usually one)."""
    return split_encoded([list(mark) for mark in marks], orjson.dumps)


def decode_marks(value: bytes) -> list[CallerMark]:
    return [
        CallerMark(caller, call_id, queue, at_us) for caller, call_id, queue, at_us in orjson.loads(value)
    ]
