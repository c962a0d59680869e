"""Putting events on Kafka: the producer behind ``simulate`` and ``publish``.

Usage::

    async with EventProducer(deployment) as producer:
        await producer.send_event(event)                   # topic and key by the contract
        await producer.send_raw("callcenter.calls", key, raw_json)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
import time
from types import TracebackType

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from metrics.contract.events import Event
from stream.deploy import Deployment
from stream.encode import kafka_key, to_json_line
from stream.problems import RuntimeProblem

STOP_SECONDS = 30.0  # how long closing waits for Kafka to take what is buffered
ECHO_SECONDS = 10.0  # while in use, aiokafka's complaints are printed at most this often


def topic_for(event: Event, deployment: Deployment) -> str:
    return deployment.agents_topic if event.type == "agent.state" else deployment.calls_topic


def unreachable(deployment: Deployment, error: BaseException, heard: AiokafkaLog) -> RuntimeProblem:
    """The one sentence for a Kafka that cannot be reached or refuses our credentials.

    ``heard``: aiokafka's log meanwhile; its last error tells why (refused, authentication).
    """
    reason = heard.last_error or f"{type(error).__name__}: {error}"
    return RuntimeProblem(f"cannot reach Kafka at {_where(deployment)}: {reason}")


def _where(deployment: Deployment) -> str:
    return f"{deployment.kafka_servers} (CCMETRICS_KAFKA_SERVERS)"


class AiokafkaLog(logging.Handler):
    """aiokafka's log while in use: its last error kept, and a line printed at most every ``echo_every`` s.

    aiokafka logs every failed connection, dozens a second while a broker is away. A command
    says why in one sentence instead (``echo_every=None``: nothing printed), or now and then.

    >>> with AiokafkaLog() as heard:
    ...     logging.getLogger("aiokafka.conn").error("Unable connect to %s", "x:1")
    >>> heard.last_error
    'Unable connect to x:1'
    """

    def __init__(self, echo_every: float | None = None) -> None:
        super().__init__(logging.WARNING)
        self.last_error: str | None = None
        self._echo_every = echo_every
        self._echoed = -math.inf
        self._logger = logging.getLogger("aiokafka")

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.last_error = record.getMessage()
        if self._echo_every is not None and time.monotonic() - self._echoed >= self._echo_every:
            self._echoed = time.monotonic()
            print(
                f"kafka: {record.getMessage()} (repeats hidden for {self._echo_every:g} s)", file=sys.stderr
            )

    def __enter__(self) -> AiokafkaLog:
        self._propagate, self._logger.propagate = self._logger.propagate, False
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._logger.removeHandler(self)
        self._logger.propagate = self._propagate


async def ensure_topics(deployment: Deployment, *more: str) -> None:
    """Create the contract topics (and ``more``) with the configured partitions if missing.

    Raises :class:`RuntimeProblem` if Kafka cannot be reached.
    """
    admin = AIOKafkaAdminClient(**deployment.aiokafka_options())
    try:
        with AiokafkaLog() as heard:
            await admin.start()
    except (KafkaError, OSError) as error:
        await admin.close()
        raise unreachable(deployment, error, heard) from None
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
    """An idempotent aiokafka producer that knows the contract's topics and keys.

    A Kafka that cannot be reached, or fails while in use, ends the block with one
    :class:`RuntimeProblem` sentence.
    """

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self._producer: AIOKafkaProducer | None = None
        self.sent = 0  # messages handed to the producer
        self._log = AiokafkaLog(echo_every=ECHO_SECONDS)

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
            with AiokafkaLog() as heard:
                await self._producer.start()
        except (KafkaError, OSError) as error:
            await self._producer.stop()
            raise unreachable(self.deployment, error, heard) from None
        self._log.__enter__()  # a broker away while in use: a line every ECHO_SECONDS, not dozens a second
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            closing = await self._close()
        finally:
            self._log.__exit__()
        failure = error or closing
        if isinstance(failure, KafkaError):
            where = _where(self.deployment)
            raise RuntimeProblem(f"Kafka at {where} failed after {self.sent} events: {failure}") from None

    async def _close(self) -> KafkaError | None:
        """Flush what is buffered and close, for at most STOP_SECONDS: the idempotent producer
        retries for ever while Kafka is away. Returns a Kafka error met on the way."""
        try:
            await asyncio.wait_for(self.producer.stop(), STOP_SECONDS)
        except TimeoutError:
            raise RuntimeProblem(
                f"Kafka at {_where(self.deployment)} took no more messages for {STOP_SECONDS:g} s; "
                f"of {self.sent} events handed over, the last ones were not sent"
            ) from None
        except KafkaError as failure:
            return failure
        return None

    async def send_event(self, event: Event) -> None:
        await self.send_raw(topic_for(event, self.deployment), kafka_key(event), to_json_line(event))

    async def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        await self.producer.send(topic, value=value, key=key)
        self.sent += 1

    async def send_routed(self, event: Event, value: bytes) -> None:
        """Send ``value`` (the event's original JSON) to the event's topic, keyed by the contract."""
        await self.send_raw(topic_for(event, self.deployment), kafka_key(event), value)

    async def flush(self) -> None:
        await self.producer.flush()
