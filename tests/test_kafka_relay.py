"""The relay of benchmarks/kafka_relay.py owes the messages an event it is asked for, no more."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from benchmarks.kafka_relay import IN_FLIGHT, Relay
from stream.direct_producer import Message


class CountingProducer:
    """Takes every hand-over at once; keeps what it was handed."""

    def __init__(self) -> None:
        self.handed: list[list[Message]] = []

    async def hand_over(self, messages: list[Message]) -> asyncio.Future[None]:
        self.handed.append(messages)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def records(count: int) -> list[ConsumerRecord[bytes, bytes]]:
    value = orjson.dumps({"type": "call.queued"})
    return [ConsumerRecord("t", 0, n, 0, 0, b"k", value, None, 1, len(value), ()) for n in range(count)]


@pytest.mark.parametrize(("ratio", "expected"), [(0.0, 0), (1.0, 300), (1.17, 351), (2.5, 750)])
async def test_a_relay_sends_the_messages_its_events_owe(ratio: float, expected: int) -> None:
    producer = CountingProducer()
    relay = Relay(producer, ratio)
    for _ in range(3):
        await relay.take(records(100))
    await relay.delivered()
    assert sum(len(handed) for handed in producer.handed) == expected


async def test_a_relay_waits_for_its_oldest_hand_over_beyond_the_limit() -> None:
    pending: list[asyncio.Future[None]] = []

    class SlowProducer(CountingProducer):
        async def hand_over(self, messages: list[Message]) -> asyncio.Future[None]:
            pending.append(asyncio.get_running_loop().create_future())
            return pending[-1]

    relay = Relay(SlowProducer(), 1.0)
    for _ in range(IN_FLIGHT):
        await relay.take(records(1))
    waiting: Any = asyncio.ensure_future(relay.take(records(1)))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    pending[0].set_result(None)
    await asyncio.wait_for(waiting, 1)
