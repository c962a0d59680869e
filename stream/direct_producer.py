"""Sending a batch's messages straight through aiokafka, table changelog entries included.

faust hands every table change and topic send to aiokafka one at a time, from a buffer that
one task drains, and pauses the stream whenever more than 100 messages wait ("producer
buffer full" in the worker's log; py-spy put most of the worker's time there). The worker's
steps make their messages a batch at a time, so they hand them over here together; the
batch's offsets are acknowledged once Kafka has all of them. They go into one aiokafka
record batch per topic partition (:class:`PartitionBatches`, aiokafka's ``create_batch`` and
``send_batch``), each sent as it fills: a future per batch, not per message (``send`` made
one for each, with its callbacks: a sixth of the worker's time in a one-off profile; 1.28× the
worker's pace without, ``python -m benchmarks.worker_ab``). A table entry is written
to the table's store and to its changelog topic in faust's own format, so faust's recovery
reads it back like any other. Usage::

    producer = DirectProducer(deployment.aiokafka_options(), stats)
    delivered = await producer.hand_over([table_entry(table, key, value, partition), ...])
    await delivered  # Kafka has them all, or refused some for good (counted in stats)

A message Kafka can never take (too large, refused by the broker) is counted in
``callcenter_output_failures_total{topic,reason}``, logged without its payload and skipped:
one bad record must not stop the worker, nor make it fail again on the same offset after
every restart. Errors that may pass (a broker away, a timeout) still fail the batch, whose
offsets are then not committed: it is processed again after the restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from functools import partial
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    PolicyViolationError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)

from metrics.pipeline import PipelineStats
from stream.partitioner import partition_of
from stream.state_codecs import encode_state

LINGER_MS = 5
# Errors about one message that sending it again cannot cure, by the reason label they count under
REFUSALS: dict[type[Exception], str] = {
    MessageSizeTooLargeError: "too_large",
    RecordListTooLargeError: "too_large",
    RecordTooLargeError: "too_large",
    CorruptRecordException: "corrupt_record",
    InvalidTimestampError: "invalid_timestamp",
    InvalidTopicError: "invalid_topic",
    PolicyViolationError: "policy_violation",
    TopicAuthorizationFailedError: "not_authorized",
}
_REFUSED = tuple(REFUSALS)
LOG_AGAIN_AFTER_SECONDS = 60.0  # refusals of one topic and reason are logged at most this often
log = logging.getLogger("ccmetrics.producer")


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

    def __init__(self, options: dict[str, Any], stats: PipelineStats) -> None:
        self._options = options
        self._producer: AIOKafkaProducer | None = None
        self._refusals = RefusalLog(stats)
        self._judging: set[asyncio.Future[None]] = set()

    async def hand_over(self, messages: Iterable[Message]) -> asyncio.Future[None]:
        """Hand every message to the producer; the future is done once Kafka has or refused each."""
        batches = PartitionBatches(await self._started(), self._max_request_bytes)
        for m in messages:
            try:
                await batches.add(m)
            except _REFUSED as error:  # refused before sending: too large for the producer
                self._refusals.add(m, error)
        sent = await batches.send_all()
        outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # a callback, not a task per batch: a task cost the worker about a tenth of its pace
        asyncio.gather(*(future for _, future in sent)).add_done_callback(
            partial(self._answered, sent, outcome)
        )
        return outcome

    @property
    def _max_request_bytes(self) -> int:
        return int(self._options.get("max_request_size", DEFAULT_MAX_REQUEST_BYTES))

    def _answered(self, sent: list[Sent], outcome: asyncio.Future[None], all_: Any) -> None:
        """Kafka took every message (the usual case), or one failed: then look at each."""
        if all_.cancelled():
            outcome.cancel()  # not delivered: never acknowledged
        elif all_.exception() is None:
            outcome.set_result(None)
        else:
            judging = asyncio.ensure_future(self._judge_each(sent, outcome))
            self._judging.add(judging)  # a task nothing refers to may be collected before it ends
            judging.add_done_callback(self._judging.discard)

    async def _judge_each(self, sent: list[Sent], outcome: asyncio.Future[None]) -> None:
        """Count the refusals among the answers (each message of a batch refused whole); fail
        the batch with any other error."""
        answers = await asyncio.gather(*(future for _, future in sent), return_exceptions=True)
        for (held, _), answer in zip(sent, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, _REFUSED):
                    outcome.set_exception(answer)
                    return
                for message in held:
                    self._refusals.add(message, answer)
        outcome.set_result(None)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(**self._options, acks="all", linger_ms=LINGER_MS)
            await self._producer.start()
        return self._producer


Sent = tuple[list[Message], asyncio.Future[Any]]  # the messages of one record batch, and its delivery
DEFAULT_MAX_REQUEST_BYTES = 1_048_576  # aiokafka's max_request_size
# A record's bytes beyond its key and value, and its batch's, with room to spare (aiokafka's
# estimate for a record alone: 61 to 80): one over the limit is refused before it is batched.
RECORD_OVERHEAD_BYTES = 128


class PartitionBatches:
    """A batch's messages in one aiokafka record batch per topic partition, each handed to the
    producer as it fills (a partition's batches keep the messages' order). Usage::

        batches = PartitionBatches(producer, max_request_bytes=1_048_576)
        await batches.add(message)        # may send a full batch of its partition
        sent = await batches.send_all()   # (messages, future) of every batch
    """

    def __init__(self, producer: AIOKafkaProducer, max_request_bytes: int) -> None:
        self._producer, self._max_request_bytes = producer, max_request_bytes
        self._open: dict[tuple[str, int], tuple[Any, list[Message]]] = {}  # aiokafka BatchBuilders
        self._partitions: dict[str, int] = {}  # how many each topic has
        self._sent: list[Sent] = []

    async def add(self, message: Message) -> None:
        """Add ``message`` to its partition's batch; raise if the producer would refuse it."""
        value = _payload(message)
        size = len(message.key or b"") + len(value or b"") + RECORD_OVERHEAD_BYTES
        if size > self._max_request_bytes:  # what producer.send raises: a batch of it would fail whole
            raise MessageSizeTooLargeError(f"the message is {size} bytes, over max_request_size")
        where = (message.topic, await self._partition(message))
        builder, held = self._open.get(where) or self._start(where)
        if builder.append(timestamp=None, key=message.key, value=value) is None:  # full
            await self._send(where)
            builder, held = self._start(where)
            builder.append(timestamp=None, key=message.key, value=value)  # an empty one takes any
        held.append(message)

    async def send_all(self) -> list[Sent]:
        """Send every batch still open; every batch sent, with its messages."""
        for where in list(self._open):
            await self._send(where)
        return self._sent

    def _start(self, where: tuple[str, int]) -> tuple[Any, list[Message]]:
        opened = self._open[where] = (self._producer.create_batch(), [])
        return opened

    async def _send(self, where: tuple[str, int]) -> None:
        builder, held = self._open.pop(where)
        topic, partition = where
        self._sent.append((held, await self._producer.send_batch(builder, topic, partition=partition)))

    async def _partition(self, message: Message) -> int:
        if message.partition is not None:
            return message.partition
        count = self._partitions.get(message.topic)
        if count is None:
            count = self._partitions[message.topic] = len(await self._producer.partitions_for(message.topic))
        return partition_of(message.key, count)  # by the key's murmur2, as every Kafka producer


def _payload(message: Message) -> bytes | None:
    return message.value if message.state is None else encode_state(message.state)


class RefusalLog:
    """Counts messages Kafka refused for good, and logs them without their payload."""

    def __init__(self, stats: PipelineStats) -> None:
        self._stats = stats
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}  # -> (when, count then)

    def add(self, message: Message, error: Exception) -> None:
        reason = next(r for kind, r in REFUSALS.items() if isinstance(error, kind))
        self._stats.output_failed(message.topic, reason)
        count = self._stats.output_failures[message.topic, reason]
        last = self._logged.get((message.topic, reason))
        if last is None or time.monotonic() - last[0] >= LOG_AGAIN_AFTER_SECONDS:
            self._logged[message.topic, reason] = (time.monotonic(), count)
            log.error(
                "Kafka refused a message to %s (%s: %s), skipped; %d such since the last report",
                message.topic,
                reason,
                type(error).__name__,
                count - (last[1] if last else 0),
            )
