"""Stand-ins for faust's consumer in the batch consumer's tests: the attributes its methods use."""

from __future__ import annotations

import collections
import types
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from intervaltree import IntervalTree

from stream.faust_internals import BatchConsumer
from stream.requests_waiting import RequestsWaiting

PARTITION = TP("callcenter.calls", 0)


def offsets_consumer(read: int | None = None, committed: int | None = None) -> Any:
    """The attributes of faust's consumer that reading, acknowledging and committing use."""
    return SimpleNamespace(
        _read_offset={PARTITION: read},
        _committed_offset={PARTITION: committed},
        _acked=defaultdict(list),
        _acked_index=defaultdict(set),
        _gap=defaultdict(IntervalTree),
        _n_acked=0,
        app=SimpleNamespace(monitor=SimpleNamespace(stream_inbound_time={})),
    )


def records_at(*offsets: int) -> list[Any]:
    return [SimpleNamespace(offset=offset) for offset in offsets]


def hand_over_consumer(waiting: RequestsWaiting) -> Any:
    """A consumer with what handing batches over uses: its transport's requests, offsets, the
    batches in flight (acknowledged as they settle)."""
    consumer = offsets_consumer()
    consumer.transport = SimpleNamespace(requests=waiting)
    consumer.flow_active = True
    consumer.app.consumer_generation_id = 0
    consumer._in_flight = collections.deque()
    for name in ("_take", "_unchanged_since"):
        setattr(consumer, name, types.MethodType(getattr(BatchConsumer, name), consumer))

    async def settled(keep: int) -> None:
        """Nothing is acknowledged here: the spans stay in flight for the test to read."""

    consumer._add_to_settled = settled
    return consumer
