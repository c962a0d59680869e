"""Putting events on Kafka: the producer behind ``simulate`` and ``publish``.

Usage::

    async with EventProducer(deployment) as producer:
        await producer.send_event(event)                   # topic and key by the contract
        await producer.send_raw("callcenter.calls", key, raw_json)
"""

from __future__ import annotations

import contextlib
from types import TracebackType

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from metrics.events import Event
from stream.deploy import Deployment
from stream.encode import kafka_key, to_json_line


def topic_for(event: Event, deployment: Deployment) -> str:
    return deployment.agents_topic if event.type == "agent.state" else deployment.calls_topic


async def ensure_topics(deployment: Deployment, *more: str) -> None:
    """Create the contract topics (and ``more``) with the configured partitions if missing."""
    admin = AIOKafkaAdminClient(**deployment.aiokafka_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        topics = (deployment.calls_topic, deployment.agents_topic, deployment.rejected_topic, *more)
        wanted = [t for t in topics if t not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process made them first
                await admin.create_topics([NewTopic(t, deployment.partitions, 1) for t in wanted])
    finally:
        await admin.close()


class EventProducer:
    """An idempotent aiokafka producer that knows the contract's topics and keys."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.producer = AIOKafkaProducer(
            **deployment.aiokafka_options(), acks="all", enable_idempotence=True, linger_ms=5
        )

    async def __aenter__(self) -> EventProducer:
        await ensure_topics(self.deployment)
        await self.producer.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.producer.stop()  # flushes what is buffered

    async def send_event(self, event: Event) -> None:
        await self.send_raw(topic_for(event, self.deployment), kafka_key(event), to_json_line(event))

    async def send_raw(self, topic: str, key: bytes, value: bytes) -> None:
        await self.producer.send(topic, value=value, key=key)

    async def send_routed(self, event: Event, value: bytes) -> None:
        """Send ``value`` (the event's original JSON) to the event's topic, keyed by the contract."""
        await self.send_raw(topic_for(event, self.deployment), kafka_key(event), value)

    async def flush(self) -> None:
        await self.producer.flush()
