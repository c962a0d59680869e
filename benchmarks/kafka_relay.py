"""The least a worker that keeps its state in Kafka must do: read, decode, write, nothing else.

A relay reads the bench events as the bare consumer does (aiokafka ``getmany``, orjson), and
for every event it hands messages to Kafka, as many an event as the worker sends of its own
(changelogs and internal topics; ``kafka_throughput`` counts them), a fetch's output delivered
before it counts. It computes nothing and reads none of them back, so it is a floor under the
worker's Kafka work, not an estimate of it: no worker that writes what this one writes, with
the same producer, can be faster. Two producers, each with acks from all replicas:

- the worker's own (:class:`stream.direct_producer.DirectProducer`, librdkafka);
- aiokafka's record batches, one per topic partition, each sent as it fills
  (:class:`AiokafkaBatches`): what the worker used before librdkafka.

Usage::

    rate = asyncio.run(relay(bootstrap, 200_000, 1.12, "librdkafka", prefix="bench."))
    print(rate.per_second, rate.cpu_us_each)

``kafka_throughput`` runs both beside the bare consumer and prints what is left of an event's
time for the steps at the worker's target, a quarter of the bare consumer's pace; then each
producer alone over the same messages (:func:`producer_cost`): the CPU time a message.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from metrics.pipeline import PipelineStats
from stream.deploy import Deployment
from stream.direct_producer import DirectProducer, Message
from stream.partitioner import partition_of

IN_FLIGHT = 8  # fetches handed over but not yet delivered, as the worker's MAX_IN_FLIGHT
FETCH = 2_000  # messages a hand-over, when a producer is timed alone
RELAY_TOPIC = "relay-out"
ProducerKind = Literal["librdkafka", "aiokafka"]
PRODUCERS: tuple[ProducerKind, ...] = ("librdkafka", "aiokafka")


class HandsOver(Protocol):
    async def hand_over(self, messages: list[Message]) -> asyncio.Future[Any]: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Cost:
    """Events relayed (or messages sent), over the time from the first to the last delivery;
    the CPU time of this process over the same span."""

    count: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_us_each(self) -> float:
        return self.cpu_seconds / self.count * 1e6


class AiokafkaBatches:
    """aiokafka's producer, a hand-over's messages in one record batch per topic partition,
    each sent as it fills; done when Kafka has every batch."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        self._started = False
        self._partitions: dict[str, int] = {}

    async def hand_over(self, messages: list[Message]) -> asyncio.Future[Any]:
        if not self._started:
            await self._producer.start()
            self._started = True
        open_: dict[tuple[str, int], Any] = {}
        sent = []
        for message in messages:
            where = (message.topic, await self._partition(message))
            builder = open_.get(where) or open_.setdefault(where, self._producer.create_batch())
            if builder.append(timestamp=None, key=message.key, value=message.value) is None:  # full
                sent.append(await self._send(open_.pop(where), where))
                open_[where] = builder = self._producer.create_batch()
                builder.append(timestamp=None, key=message.key, value=message.value)
        sent += [await self._send(builder, where) for where, builder in open_.items()]
        return asyncio.gather(*sent)

    async def _send(self, builder: Any, where: tuple[str, int]) -> asyncio.Future[Any]:
        sent: asyncio.Future[Any] = await self._producer.send_batch(builder, where[0], partition=where[1])
        return sent

    async def _partition(self, message: Message) -> int:
        if message.partition is not None:
            return message.partition
        if message.topic not in self._partitions:
            self._partitions[message.topic] = len(await self._producer.partitions_for(message.topic))
        return partition_of(message.key or b"", self._partitions[message.topic])

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()


def events_consumer(bootstrap: str, prefix: str, group: str) -> AIOKafkaConsumer:
    """A consumer of the bench's calls and agents topics from their start, in a group of its own
    (named ``group``-...): how the bare consumer and the relays read the same events."""
    deployment = Deployment(kafka_servers=bootstrap, topic_prefix=prefix)
    return AIOKafkaConsumer(
        deployment.calls_topic,
        deployment.agents_topic,
        bootstrap_servers=bootstrap,
        group_id=f"{group}-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )


def new_producer(kind: ProducerKind, bootstrap: str) -> HandsOver:
    if kind == "aiokafka":
        return AiokafkaBatches(bootstrap)
    return DirectProducer(Deployment(kafka_servers=bootstrap).librdkafka_config(), PipelineStats())


class Relay:
    """Owes ``messages_per_event`` messages for each event read: after n events, n times it
    (rounded) have been handed over."""

    def __init__(self, producer: HandsOver, messages_per_event: float) -> None:
        self._producer, self._ratio = producer, messages_per_event
        self._read = self._sent = 0
        self._in_flight: list[asyncio.Future[Any]] = []

    async def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Decode each record and hand the messages it owes over; wait while too many are out."""
        messages = []
        for record in records:
            orjson.loads(record.value or b"null")
            self._read += 1
            owed = round(self._read * self._ratio) - self._sent
            messages += [Message(RELAY_TOPIC, None, record.key or b"-", record.value)] * owed
            self._sent += owed
        await self.hand_over(messages)

    async def hand_over(self, messages: list[Message]) -> None:
        self._in_flight.append(await self._producer.hand_over(messages))
        if len(self._in_flight) > IN_FLIGHT:
            await self._in_flight.pop(0)

    async def delivered(self) -> None:
        await asyncio.gather(*self._in_flight)


async def relay(
    bootstrap: str, expected: int, messages_per_event: float, producer: ProducerKind, prefix: str
) -> Cost:
    """Relay the ``expected`` events of the bench topics (named with ``prefix``)."""
    consumer = events_consumer(bootstrap, prefix, "relay")
    sending = new_producer(producer, bootstrap)
    await consumer.start()
    try:
        return await _run(consumer, Relay(sending, messages_per_event), expected)
    finally:
        await consumer.stop()
        await sending.stop()


async def _run(consumer: AIOKafkaConsumer, relaying: Relay, expected: int) -> Cost:
    seen, first, cpu = 0, 0.0, 0.0
    while seen < expected:
        batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
        for records in batches.values():
            if not first:
                first, cpu = time.monotonic(), time.process_time()
            await relaying.take(records)
            seen += len(records)
    await relaying.delivered()
    return Cost(seen, time.monotonic() - first, time.process_time() - cpu)


async def producer_cost(bootstrap: str, values: list[bytes], producer: ProducerKind) -> Cost:
    """One producer alone: ``values`` sent as messages, ``FETCH`` a hand-over."""
    producing = new_producer(producer, bootstrap)
    sending = Relay(producing, 0.0)
    messages = [Message(RELAY_TOPIC, None, b"k%d" % (n % 5000), value) for n, value in enumerate(values)]
    await sending.hand_over(messages[:1])  # started, with the topic's metadata: not timed
    await sending.delivered()
    try:
        started, cpu = time.monotonic(), time.process_time()
        for first in range(0, len(messages), FETCH):
            await sending.hand_over(messages[first : first + FETCH])
        await sending.delivered()
        return Cost(len(messages), time.monotonic() - started, time.process_time() - cpu)
    finally:
        await producing.stop()


def floors(bootstrap: str, prefix: str, expected: int, messages_per_event: float) -> dict[ProducerKind, Cost]:
    """The relay with each producer, over the bench topics named with ``prefix``."""
    found = {}
    for kind in PRODUCERS:
        found[kind] = asyncio.run(relay(bootstrap, expected, messages_per_event, kind, prefix))
    return found


def report_floors(bare_per_second: float, found: dict[ProducerKind, Cost], messages_per_event: float) -> None:
    """Each relay against the bare consumer, and what the worker's target leaves for its steps."""
    budget_us = 4e6 / bare_per_second
    print(f"relays: decode, write {messages_per_event:.2f} messages an event, compute nothing", end="")
    print(f" (a floor); at 25 % of the bare consumer an event may take {budget_us:.1f} µs")
    for kind, floor in found.items():
        floor_us, share = 1e6 / floor.per_second, floor.per_second / bare_per_second
        print(f"  relay, {kind} producer: {share:.1%} of the bare consumer, {floor_us:.1f} µs", end="")
        print(f" an event ({floor.cpu_us_each:.1f} of CPU): {budget_us - floor_us:.1f} µs left for the steps")


def compare_producers(bootstrap: str, values: list[bytes]) -> None:
    """Each producer alone over the same messages: CPU time a message."""
    found = {kind: asyncio.run(producer_cost(bootstrap, values, kind)) for kind in PRODUCERS}
    for kind, cost in found.items():
        print(f"{kind} producer alone: {cost.cpu_us_each:.1f} µs of CPU a message, {cost.per_second:,.0f}/s")
    ratio = found["aiokafka"].cpu_us_each / found["librdkafka"].cpu_us_each
    print(f"aiokafka's CPU a message / librdkafka's (the worker's): {ratio:.1f}x")
