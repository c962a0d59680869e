"""Sending a batch's messages straight through librdkafka, table changelog entries included.

faust hands every table change and topic send to aiokafka one at a time, from a buffer that
one task drains, and pauses the stream whenever more than 100 messages wait ("producer
buffer full" in the worker's log; py-spy put most of the worker's time there). The worker's
steps make their messages a batch at a time, so they hand them over here together; the
batch's offsets are acknowledged once Kafka has all of them. They go to librdkafka's producer
(confluent-kafka), which batches and sends them from its own threads. ``python -m
benchmarks.kafka_throughput`` runs a relay that only decodes each event and writes the
worker's messages an event: through aiokafka's record batches (this module's way before) it
reached a fifth of the bare consumer's pace, below the worker's target of a quarter; through
this producer, two fifths. Keyed messages go to the partition of their key's murmur2, as
with Kafka's Java client and faust; librdkafka's idempotent producer keeps each partition's
order through retries. A table entry is written to the table's store and to its changelog
topic in faust's own format, so faust's recovery reads it back like any other. Usage::

    producer = DirectProducer(deployment.librdkafka_config(), stats)
    delivered = await producer.hand_over([table_entry(table, key, value, partition), ...])
    await delivered  # Kafka has them all, or refused some for good (counted in stats)

A message Kafka can never take (too large, refused by the broker) is counted in
``callcenter_output_failures_total{topic,reason}``, logged without its payload and skipped:
one bad record must not stop the worker, nor make it fail again on the same offset after
every restart. Errors that may pass (a broker away) librdkafka retries until its message
timeout; then they fail the batch, whose offsets are then not committed: it is processed
again after the restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any, Final, NamedTuple

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka import Message as Delivered

from metrics.pipeline import PipelineStats
from stream.state_codecs import encode_state

# acks from all replicas; each partition's order kept through retries (idempotence); keyed
# messages by the key's murmur2 (librdkafka's own default hashes differently)
SETTINGS: Final = {
    "acks": "all",
    "linger.ms": 5,
    "enable.idempotence": True,
    "partitioner": "murmur2_random",
}
POLL_SECONDS: Final = 0.002  # how often deliveries are collected while some are awaited
IDLE_POLL_SECONDS: Final = 0.05  # and while none are (librdkafka's own callbacks: errors, stats)
STOP_SECONDS: Final = 30.0  # the most a stop waits for Kafka to take what was handed over
FULL_QUEUE_WAIT_SECONDS: Final = 0.005  # librdkafka's queue is full: let it send some first
# Errors about one message that sending it again cannot cure, by the reason label they count under
REFUSALS: dict[int, str] = {
    KafkaError.MSG_SIZE_TOO_LARGE: "too_large",
    KafkaError.RECORD_LIST_TOO_LARGE: "too_large",
    KafkaError.INVALID_MSG_SIZE: "too_large",
    KafkaError.INVALID_MSG: "corrupt_record",
    KafkaError.INVALID_RECORD: "corrupt_record",
    KafkaError.INVALID_TIMESTAMP: "invalid_timestamp",
    KafkaError.TOPIC_EXCEPTION: "invalid_topic",
    KafkaError.POLICY_VIOLATION: "policy_violation",
    KafkaError.TOPIC_AUTHORIZATION_FAILED: "not_authorized",
}
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
    """librdkafka's producer with :data:`SETTINGS`, started by :meth:`start` or on first use; its
    deliveries are collected by a task of the event loop (callbacks run there, no thread of ours)."""

    def __init__(self, config: dict[str, Any], stats: PipelineStats) -> None:
        # librdkafka's own log lines (a broker away, say) through ours, at the worker's level
        self._config = {**config, **SETTINGS, "logger": logging.getLogger("ccmetrics.librdkafka")}
        self._producer: Producer | None = None
        self._poller: asyncio.Task[None] | None = None
        self._refusals = RefusalLog(stats)

    def start(self) -> None:
        """Connect now (the worker's start), not at the first hand-over, which would otherwise
        wait for librdkafka's connection and idempotent producer id (half a second alone)."""
        self._started()

    async def hand_over(self, messages: Iterable[Message]) -> asyncio.Future[None]:
        """Hand every message to the producer; the future is done once Kafka has or refused each."""
        producer, handed, held = self._started(), HandOver(self._refusals), list(messages)
        taken = _produce_from(producer, held, 0, handed)
        while taken < len(held):  # librdkafka's queue is full: let it send some first
            await asyncio.sleep(FULL_QUEUE_WAIT_SECONDS)
            taken = _produce_from(producer, held, taken, handed)
        handed.close()
        return handed.outcome

    async def stop(self) -> None:
        """Wait while Kafka takes what is still queued (for up to ``STOP_SECONDS``; the collecting
        task answers each hand-over meanwhile), then stop collecting deliveries."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        deadline = time.monotonic() + STOP_SECONDS
        while len(producer) and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
        if self._poller is not None:
            self._poller.cancel()

    def _started(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(self._config)
            self._poller = asyncio.ensure_future(_collect_deliveries(self._producer))
        return self._producer


async def _collect_deliveries(producer: Producer) -> None:
    """Call ``producer.poll``: each delivered or failed message's callback runs in it. A callback
    that fails is logged; the task goes on (ended, it would leave every later batch unanswered)."""
    while True:
        try:
            producer.poll(0)
        except Exception:
            log.exception("a delivery report could not be handled")
        await asyncio.sleep(POLL_SECONDS if len(producer) else IDLE_POLL_SECONDS)


class HandOver:
    """One hand-over's messages: done once each is delivered or refused for good; failed with
    the first other error."""

    def __init__(self, refusals: RefusalLog) -> None:
        self.outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.produced = self._answered = 0
        self._closed = False
        self._refusals = refusals
        self._failure: KafkaException | None = None

    def answer(self, error: KafkaError | None, delivered: Delivered) -> None:
        """librdkafka's delivery report of one message (from ``poll``, in the event loop)."""
        self._answered += 1
        if error is not None and not self._refusals.counted(delivered.topic() or "", error):
            self._failure = self._failure or KafkaException(error)
        self._settle_if_answered()

    def refused_now(self, message: Message, error: KafkaError) -> None:
        """``produce`` refused ``message`` itself: counted as a refusal, or the batch fails."""
        if not self._refusals.counted(message.topic, error):
            raise KafkaException(error)

    def close(self) -> None:
        """Every message is handed over: the outcome waits only for their answers now."""
        self._closed = True
        self._settle_if_answered()

    def _settle_if_answered(self) -> None:
        if not self._closed or self._answered < self.produced or self.outcome.done():
            return
        if self._failure is None:
            self.outcome.set_result(None)
        else:
            self.outcome.set_exception(self._failure)


def _produce_from(producer: Producer, messages: list[Message], first: int, handed: HandOver) -> int:
    """Produce ``messages`` from ``first`` on, in one plain loop (no coroutine a message); the
    index where librdkafka's queue was full, or past the last."""
    answer = handed.answer
    for index in range(first, len(messages)):
        topic, partition, key, value, state = messages[index]
        try:
            producer.produce(
                topic,
                value if state is None else encode_state(state),
                key,
                -1 if partition is None else partition,
                on_delivery=answer,
            )
        except BufferError:
            return index
        except KafkaException as error:  # refused before sending: too large, say
            handed.refused_now(messages[index], error.args[0])
            continue
        handed.produced += 1
    return len(messages)


class RefusalLog:
    """Counts messages Kafka refused for good, and logs them without their payload."""

    def __init__(self, stats: PipelineStats) -> None:
        self._stats = stats
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}  # -> (when, count then)

    def counted(self, topic: str, error: KafkaError) -> bool:
        """Count ``error`` if it refuses a message for good (:data:`REFUSALS`); whether it did."""
        reason = REFUSALS.get(error.code())
        if reason is not None:
            self._add(topic, reason, error)
        return reason is not None

    def _add(self, topic: str, reason: str, error: KafkaError) -> None:
        self._stats.output_failed(topic, reason)
        count = self._stats.output_failures[topic, reason]
        last = self._logged.get((topic, reason))
        if last is None or time.monotonic() - last[0] >= LOG_AGAIN_AFTER_SECONDS:
            self._logged[topic, reason] = (time.monotonic(), count)
            log.error(
                "Kafka refused a message to %s (%s: %s), skipped; %d such since the last report",
                topic,
                reason,
                error.name(),
                count - (last[1] if last else 0),
            )
