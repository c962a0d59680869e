"""Sending a batch's messages straight through aiokafka, table changelog entries included.

faust hands every table change and topic send to aiokafka one at a time, from a buffer that
one task drains, and pauses the stream whenever more than 100 messages wait ("producer
buffer full" in the worker's log; py-spy put most of the worker's time there). The worker's
steps make their messages a batch at a time, so they hand them over here together; the
batch's offsets are acknowledged once Kafka has all of them. A table entry is written
to the table's store and to its changelog topic in faust's own format, so faust's recovery
reads it back like any other. Usage::

    producer = DirectProducer(deployment.aiokafka_options())
    delivered = await producer.hand_over([table_entry(table, key, value, partition), ...])
    await delivered  # Kafka has them all
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer

from stream.state_codecs import encode_state

LINGER_MS = 5


class Message(NamedTuple):
    topic: str
    partition: int | None  # None: by the key, with the default partitioner faust uses too
    key: bytes | None
    value: bytes | None  # None: a tombstone
    state: Any = None  # a table value, encoded only as it is handed over (then ``value`` is None)


def table_entry(table: Any, key: str, value: Any, partition: int) -> Message:
    """Store ``value`` under ``key`` in a faust table and return its changelog message.

    The value is encoded when handed over, one message at a time: a batch that touches
    every agent of every queue would otherwise hold tens of megabytes of JSON at once.
    """
    table.data[key] = value  # the store itself: faust's __setitem__ would send the changelog too
    return Message(table.changelog_topic.get_topic_name(), partition, key.encode(), None, value)


def table_deletion(table: Any, key: str, partition: int) -> Message:
    """Delete ``key`` from a faust table's store and return its changelog tombstone."""
    table.data.pop(key, None)
    return Message(table.changelog_topic.get_topic_name(), partition, key.encode(), None)


class DirectProducer:
    """An aiokafka producer (acks from all replicas) started on first use."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        self._producer: AIOKafkaProducer | None = None

    async def hand_over(self, messages: Iterable[Message]) -> asyncio.Future[Any]:
        """Hand every message to the producer; the future is done once Kafka has all of them."""
        producer = await self._started()
        pending = [
            await producer.send(m.topic, value=_payload(m), key=m.key, partition=m.partition)
            for m in messages
        ]
        return asyncio.gather(*pending)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(**self._options, acks="all", linger_ms=LINGER_MS)
            await self._producer.start()
        return self._producer


def _payload(message: Message) -> bytes | None:
    return message.value if message.state is None else encode_state(message.state)
