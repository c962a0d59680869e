"""Putting events on Kafka: the producer behind ``simulate`` and ``publish``.

Usage::

    async with EventProducer(deployment) as producer:
        await producer.send_event(event)                   # topic and key by the contract
        await producer.send_raw("callcenter.calls", key, raw_json)
"""

from __future__ import annotations

import contextlib
import logging
from types import TracebackType

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from metrics.events import Event
from stream.deploy import Deployment
from stream.encode import kafka_key, to_json_line
from stream.problems import RuntimeProblem


def topic_for(event: Event, deployment: Deployment) -> str:
    return deployment.agents_topic if event.type == "agent.state" else deployment.calls_topic


def unreachable(deployment: Deployment, error: BaseException, said: list[str]) -> RuntimeProblem:
    """The one sentence for a Kafka that cannot be reached or refuses our credentials.

    ``said``: what aiokafka logged meanwhile; its last line tells why (refused, authentication).
    """
    reason = said[-1] if said else f"{type(error).__name__}: {error}"
    where = f"{deployment.kafka_servers} (CCMETRICS_KAFKA_SERVERS)"
    return RuntimeProblem(f"cannot reach Kafka at {where}: {reason}")


class AiokafkaComplaints(logging.Handler):
    """Holds what aiokafka logs at error level while in use, instead of letting it print.

    >>> with AiokafkaComplaints() as said:
    ...     logging.getLogger("aiokafka.conn").error("Unable connect to %s", "x:1")
    >>> said
    ['Unable connect to x:1']
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.said: list[str] = []
        self._logger = logging.getLogger("aiokafka")

    def emit(self, record: logging.LogRecord) -> None:
        self.said.append(record.getMessage())

    def __enter__(self) -> list[str]:
        self._propagate, self._logger.propagate = self._logger.propagate, False
        self._logger.addHandler(self)
        return self.said

    def __exit__(self, *exc_info: object) -> None:
        self._logger.removeHandler(self)
        self._logger.propagate = self._propagate


async def ensure_topics(deployment: Deployment, *more: str) -> None:
    """Create the contract topics (and ``more``) with the configured partitions if missing.

    Raises :class:`RuntimeProblem` if Kafka cannot be reached.
    """
    admin = AIOKafkaAdminClient(**deployment.aiokafka_options())
    try:
        with AiokafkaComplaints() as said:
            await admin.start()
    except (KafkaError, OSError) as error:
        await admin.close()
        raise unreachable(deployment, error, said) from None
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
        self._producer: AIOKafkaProducer | None = None

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None, "use EventProducer in an async with block"
        return self._producer

    async def __aenter__(self) -> EventProducer:
        await ensure_topics(self.deployment)  # made only once Kafka answered: never left unclosed
        self._producer = AIOKafkaProducer(
            **self.deployment.aiokafka_options(), acks="all", enable_idempotence=True, linger_ms=5
        )
        try:
            with AiokafkaComplaints() as said:
                await self._producer.start()
        except (KafkaError, OSError) as error:
            await self._producer.stop()
            raise unreachable(self.deployment, error, said) from None
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.producer.stop()  # flushes what is buffered

    async def send_event(self, event: Event) -> None:
        await self.send_raw(topic_for(event, self.deployment), kafka_key(event), to_json_line(event))

    async def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        await self.producer.send(topic, value=value, key=key)

    async def send_routed(self, event: Event, value: bytes) -> None:
        """Send ``value`` (the event's original JSON) to the event's topic, keyed by the contract."""
        await self.send_raw(topic_for(event, self.deployment), kafka_key(event), value)

    async def flush(self) -> None:
        await self.producer.flush()
