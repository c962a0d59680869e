"""The least a worker that keeps its state in Kafka must do: read, decode, write, nothing else.

A relay reads the bench events as the bare consumer does (aiokafka ``getmany``, orjson), and
for every event it hands messages to Kafka through the worker's own producer
(:class:`stream.direct_producer.DirectProducer`: aiokafka record batches, acks from all
replicas, a fetch's output delivered before it counts), as many an event as the worker sends
of its own (changelogs and internal topics; ``kafka_throughput`` counts them). It computes
nothing and reads none of them back, so it is a floor under the worker's Kafka work, not an
estimate of it: no worker that writes what this one writes can be faster. Usage::

    rate = asyncio.run(relay(bootstrap, expected=200_000, messages_per_event=1.17))
    print(rate.per_second, rate.cpu_us_each)

``kafka_throughput`` runs it beside the bare consumer and prints what is left of an event's
time for the steps, at the worker's target of a quarter of the bare consumer's pace. It also
times the producer alone (:func:`producer_cost`) against librdkafka's (confluent-kafka, in the
quix-streams peer's virtual environment, which has it: ``benchmarks/librdkafka_produce.py``),
over the same messages: the CPU time a message of each.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from metrics.pipeline import PipelineStats
from stream.deploy import Deployment
from stream.direct_producer import DirectProducer, Message

REPO = Path(__file__).resolve().parent.parent
IN_FLIGHT = 8  # fetches handed over but not yet delivered, as the worker's MAX_IN_FLIGHT
FETCH = 2_000  # messages a hand-over, when the producer is timed alone
RELAY_TOPIC = "relay-out"
LIBRDKAFKA_PYTHON = REPO / ".cache" / "quix-venv" / "bin" / "python"


@dataclass(frozen=True)
class Cost:
    """Events relayed (or messages sent), over the time from the first to the last delivery;
    the CPU time of the process that did it over the same span."""

    count: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_us_each(self) -> float:
        return self.cpu_seconds / self.count * 1e6


class Relay:
    """Owes ``messages_per_event`` messages for each event read: after n events, n times it
    (rounded) have been handed over."""

    def __init__(self, producer: DirectProducer, messages_per_event: float) -> None:
        self._producer, self._ratio = producer, messages_per_event
        self._read = self._sent = 0
        self._in_flight: list[asyncio.Future[None]] = []

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


async def relay(bootstrap: str, expected: int, messages_per_event: float, prefix: str = "bench.") -> Cost:
    """Relay the ``expected`` events of the bench topics (named with ``prefix``)."""
    deployment = Deployment(kafka_servers=bootstrap, topic_prefix=prefix)
    consumer = AIOKafkaConsumer(
        deployment.calls_topic,
        deployment.agents_topic,
        bootstrap_servers=bootstrap,
        group_id=f"relay-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    producer = DirectProducer(deployment.aiokafka_options(), PipelineStats())
    await consumer.start()
    try:
        return await _run(consumer, Relay(producer, messages_per_event), expected)
    finally:
        await consumer.stop()
        await producer.stop()


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


async def producer_cost(bootstrap: str, values: list[bytes]) -> Cost:
    """The worker's producer alone: ``values`` sent as messages, ``FETCH`` a hand-over."""
    producer = DirectProducer(Deployment(kafka_servers=bootstrap).aiokafka_options(), PipelineStats())
    sending = Relay(producer, 0.0)
    messages = [Message(RELAY_TOPIC, None, b"k%d" % (n % 5000), value) for n, value in enumerate(values)]
    await sending.hand_over(messages[:1])  # started, with the topic's metadata: not timed
    try:
        started, cpu = time.monotonic(), time.process_time()
        for first in range(0, len(messages), FETCH):
            await sending.hand_over(messages[first : first + FETCH])
        await sending.delivered()
        return Cost(len(messages), time.monotonic() - started, time.process_time() - cpu)
    finally:
        await producer.stop()


def librdkafka_cost(bootstrap: str, values_file: Path) -> Cost | None:
    """librdkafka's producer over the lines of ``values_file``, or ``None`` without its venv."""
    if not LIBRDKAFKA_PYTHON.exists():
        print(f"librdkafka's producer skipped: no {LIBRDKAFKA_PYTHON} (make bench makes it)", flush=True)
        return None
    script = REPO / "benchmarks" / "librdkafka_produce.py"
    command = [str(LIBRDKAFKA_PYTHON), str(script), bootstrap, "librdkafka-out", str(values_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    found = orjson.loads(done.stdout.strip().splitlines()[-1])
    return Cost(found["messages"], found["seconds"], found["cpu_seconds"])


def report_floor(bare_per_second: float, floor: Cost, messages_per_event: float) -> None:
    """The relay against the bare consumer, and what the worker's target leaves for its steps."""
    print(
        f"relay (decode, write {messages_per_event:.2f} messages an event, compute nothing) / bare consumer: "
        f"{floor.per_second / bare_per_second:.1%}   (the floor under the worker's Kafka work)"
    )
    budget_us, floor_us = 4e6 / bare_per_second, 1e6 / floor.per_second
    left = budget_us - floor_us
    print(f"at 25 % of the bare consumer an event may take {budget_us:.1f} µs; the relay's takes", end="")
    print(f" {floor_us:.1f} µs ({floor.cpu_us_each:.1f} µs of CPU): {left:.1f} µs left for the steps")


def report_producers(ours: Cost, librdkafka: Cost | None) -> None:
    """The worker's producer (aiokafka) against librdkafka's, a message each."""
    print(f"the worker's producer (aiokafka record batches): {ours.cpu_us_each:.1f} µs of CPU", end="")
    print(f" a message, {ours.per_second:,.0f} messages/s")
    if librdkafka is not None:
        print(f"librdkafka's (confluent-kafka): {librdkafka.cpu_us_each:.1f} µs of CPU a message", end="")
        print(f", {librdkafka.per_second:,.0f}/s; aiokafka's CPU / librdkafka's: ", end="")
        print(f"{ours.cpu_us_each / librdkafka.cpu_us_each:.1f}x")


def compare_producers(bootstrap: str, values: list[bytes], values_file: Path) -> None:
    """Both producers over the same messages (``values``, also the lines of ``values_file``)."""
    values_file.write_bytes(b"".join(value + b"\n" for value in values))
    ours = asyncio.run(producer_cost(bootstrap, values))
    report_producers(ours, librdkafka_cost(bootstrap, values_file))
