"""The worker's producer on a real broker: keys' partitions, order, refusals."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from metrics.pipeline import PipelineStats
from stream.direct_producer import DirectProducer, Message
from tests.integration.conftest import Tenant, create_topic

pytestmark = pytest.mark.kafka


def _read_all(tenant: Tenant, topic: str, count: int) -> list[tuple[int, bytes | None, bytes]]:
    async def run() -> list[tuple[int, bytes | None, bytes]]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=tenant.kafka.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        found: list[tuple[int, bytes | None, bytes]] = []
        try:
            deadline = time.monotonic() + 30
            while len(found) < count and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                found += [(r.partition, r.key, r.value) for rs in batches.values() for r in rs]
        finally:
            await consumer.stop()
        return found

    return asyncio.run(run())


def _hand_over(tenant: Tenant, messages: list[Message], stats: PipelineStats) -> None:
    async def run() -> None:
        config = {"bootstrap.servers": tenant.kafka.bootstrap, "message.max.bytes": 50_000}
        producer = DirectProducer(config, stats)
        try:
            await (await producer.hand_over(messages))
        finally:
            await producer.stop()

    asyncio.run(run())


def test_messages_of_many_batches_arrive_in_order_on_their_keys_partitions(tenant: Tenant) -> None:
    topic = f"{tenant.prefix}producer.order"
    create_topic(tenant, topic, {})
    keys = [f"queue-{n}".encode() for n in range(7)]
    # 500-byte values: 1.5 MB, sent in many requests (and partitioned as faust and aiokafka do)
    messages = [Message(topic, None, keys[n % 7], b"%06d" % n + b"x" * 494) for n in range(3_000)]
    _hand_over(tenant, messages, PipelineStats())
    found, every = _read_all(tenant, topic, len(messages)), [0, 1, 2, 3]
    by_key: dict[bytes | None, list[bytes]] = defaultdict(list)
    for partition, key, value in found:
        assert partition == DefaultPartitioner()(key, every, every)
        by_key[key].append(value)
    assert by_key == {key: [m.value for m in messages if m.key == key] for key in keys}


def test_a_message_over_the_request_size_is_counted_and_the_rest_delivered(tenant: Tenant) -> None:
    topic = f"{tenant.prefix}producer.sizes"
    create_topic(tenant, topic, {})
    fine = [Message(topic, 2, b"k", b"small %d" % n) for n in range(10)]
    huge = Message(topic, 2, b"k", b"x" * 60_000)
    stats = PipelineStats()
    _hand_over(tenant, [*fine[:5], huge, *fine[5:]], stats)
    assert [value for _, _, value in _read_all(tenant, topic, 10)] == [m.value for m in fine]
    assert stats.output_failures == {(topic, "too_large"): 1}


def _first_delivery_seconds(tenant: Tenant, topic: str, started_early: bool) -> float:
    async def run() -> float:
        producer = DirectProducer({"bootstrap.servers": tenant.kafka.bootstrap}, PipelineStats())
        try:
            if started_early:
                producer.start()
                await asyncio.sleep(2)  # the worker's start, before its first batch
            began = time.monotonic()
            await (await producer.hand_over([Message(topic, 0, b"k", b"v")]))
            return time.monotonic() - began
        finally:
            await producer.stop()

    return asyncio.run(run())


def test_a_producer_started_early_delivers_its_first_batch_without_connecting_first(tenant: Tenant) -> None:
    topic = f"{tenant.prefix}producer.first"
    create_topic(tenant, topic, {})
    on_first_use = _first_delivery_seconds(tenant, topic, started_early=False)
    started = _first_delivery_seconds(tenant, topic, started_early=True)
    assert started * 4 < on_first_use, (started, on_first_use)  # about 0.02 s against 0.5 s
