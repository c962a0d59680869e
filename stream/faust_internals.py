"""Every use of faust's, mode's and aiokafka's private internals, behind named functions and classes.

faust is pinned (pyproject.toml); :data:`PRIVATE_NAMES` lists each private name used here,
and tests/stream/test_faust_internals.py checks faust's version and that each name still
exists, failing with the list of what an upgrade removed. What faust still gives the worker,
and why it stays, is in docs/architecture.md.

Whole fetched batches go to one handler per topic, below faust's per-message path.

faust's consumer delivers each fetched message on its own: two tasks raced with
``wait_first``, the conductor's lock and decoding, an event object, a channel queue and the
stream iterator, tens of microseconds each; py-spy put about two thirds of the worker's time
there. This consumer takes the records aiokafka fetched and hands those of a topic with a
handler to it in one call, or in pieces with loop turns between where one call would hold
the loop too long for the HTTP side (:mod:`stream.requests_waiting`). The handler returns
once its output is handed to the producer, with an awaitable that is done when Kafka has
all of it; the batch's offsets are acknowledged then, oldest batch first, while the next
batches are handled (up to ``MAX_IN_FLIGHT``), and faust's own bookkeeping commits them as
usual.

Topics without a handler are table changelogs, read by faust's recovery. While a changelog
partition is being recovered, all but the last record of each fetch are applied to the
table's store here (:func:`apply_changelog`); the last goes through faust, whose recovery
moves its offsets and ends on it. Other messages go through faust one at a time, with a
fast path when the message is taken without waiting.

The consumer's fetches wait for new data at most :data:`FETCH_MAX_WAIT_MS` (faust's
consumer thread, :class:`PromptFetchThread`). Everything else stays faust's: subscription
and partition assignment (each handled topic still has an agent), pausing partitions during
recovery, rebalances, commits. Usage::

    app.transport = BatchTransport(app.conf.broker_consumer, app)
    app.transport.handlers["callcenter.calls"] = handle_calls  # async (records) -> awaitable
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import time
import types
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from aiokafka.errors import IllegalStateError
from aiokafka.structs import ConsumerRecord
from faust.serializers import codecs
from faust.stores import memory
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, EventT
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from metrics.storage.cold import ColdStore
from stream.requests_waiting import REQUEST_TURNS, RequestsWaiting

Records = Sequence[ConsumerRecord[bytes, bytes]]
BatchHandler = Callable[[Records], Awaitable[Awaitable[None]]]
Span = tuple[TP, int, int]  # a partition's offsets, first to last
MAX_IN_FLIGHT = 8  # batches handled but not yet acknowledged by Kafka
# The longest the broker may hold a fetch with no new data (faust asks for 1,500 ms). aiokafka
# sends one fetch at a time to a broker, leaving out partitions whose records are still
# unread: when only quiet partitions are in it, records arriving on the busy ones wait the
# whole of it (1.5 s stalls at 2,000 events/s, benchmarks/latency.py). Shorter costs an idle
# worker more empty fetches (benchmarks/idle_cpu.py; 100 ms cost 3.6 % of a core).
FETCH_MAX_WAIT_MS = 250


class BatchConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, delivering handled topics a batch at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # a handler returns once its batch is handled and its output handed to the producer;
        # the batch's offsets are acknowledged when the returned awaitable (Kafka has it) is done
        self._in_flight: deque[tuple[asyncio.Future[None], list[Span]]] = deque()

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return PromptFetchThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        while not (self._stopped.is_set() or fetcher._stopped.is_set()):
            generation = self.app.consumer_generation_id
            records, _ = await self._wait_next_records(1.0)
            await self.sleep(0)
            if records and not self.should_stop:
                await self._deliver(records, generation)
            await self._add_to_settled(keep=MAX_IN_FLIGHT)

    async def _deliver(self, records: Mapping[TP, Records], generation: int) -> None:
        """Hand each topic's unread records to its handler, or to faust one by one.

        Records are delivered only while the partition is active and no rebalance began
        since they were fetched; the rest are fetched again if the partition is still ours.
        """
        handlers = cast(BatchTransport, self.transport).handlers
        for topic, batches in self._unread_by_topic(records).items():
            if not self._unchanged_since(generation):
                await self._fetch_again(batches)
                continue
            active = self._get_active_partitions() | self._buffered_partitions
            mine = [(tp, batch) for tp, batch in batches if tp in active]
            await self._fetch_again([(tp, batch) for tp, batch in batches if tp not in active])
            handler = handlers.get(topic)
            if handler is None:
                await self._one_at_a_time(mine, generation)
            else:
                await self._hand_over(topic, handler, mine, generation)
            await self._add_to_settled(keep=MAX_IN_FLIGHT)
            if self._commit_every is not None and self._n_acked >= self._commit_every:
                self._n_acked = 0
                await self.commit()

    async def _hand_over(
        self, topic: str, handler: BatchHandler, batches: list[tuple[TP, Records]], generation: int
    ) -> None:
        """The batches to ``handler`` in pieces of the size :mod:`stream.requests_waiting` says
        (whole, until the topic's time a record is known), with loop turns after each."""
        waiting = cast(BatchTransport, self.transport).requests
        while batches:
            if not self._unchanged_since(generation):
                await self._fetch_again(batches)
                return
            piece, batches = split_off(batches, waiting.records_per_piece(topic))
            spans, records, started = self._take(piece), [r for _, b in piece for r in b], time.monotonic()
            sent = await handler(records)
            waiting.handled(topic, len(records), time.monotonic() - started)
            self._in_flight.append((asyncio.ensure_future(sent), spans))
            await self._add_to_settled(keep=MAX_IN_FLIGHT)
            for _ in range(REQUEST_TURNS):  # a request arrived meanwhile is started
                await asyncio.sleep(0)

    def _unread_by_topic(self, records: Mapping[TP, Records]) -> dict[str, list[tuple[TP, Records]]]:
        by_topic: dict[str, list[tuple[TP, Records]]] = defaultdict(list)
        for tp, batch in records.items():
            read = self._read_offset[tp]  # faust re-reads from here (a seek sets it)
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            unread = batch if read is None else [r for r in batch if r.offset >= read]
            if unread:
                by_topic[tp.topic].append((tp, unread))
        return by_topic

    def _unchanged_since(self, generation: int) -> bool:
        return bool(self.flow_active) and self.app.consumer_generation_id == generation

    async def _fetch_again(self, batches: list[tuple[TP, Records]]) -> None:
        """Records fetched but not delivered: seek back to them if their partition is still ours.

        faust's own loop drops them, which loses them when the fetch came after the seek to
        committed offsets that follows a rebalance (the partition's lag then never shrinks).
        """
        assigned = self.assignment()
        for tp, batch in batches:
            if tp in assigned:
                with contextlib.suppress(IllegalStateError):  # revoked in the meantime
                    await self.seek(tp, batch[0].offset)

    def _take(self, batches: list[tuple[TP, Records]]) -> list[Span]:
        """Mark the batches read; return the offsets to acknowledge once they are handled."""
        spans, now = [], time.monotonic()
        for tp, batch in batches:
            read = self._read_offset[tp]
            # offsets missing between records (compaction, transaction markers) count as handled
            first = batch[0].offset if read is None else min(batch[0].offset, read + 1)
            spans.append((tp, first, batch[-1].offset))
            self._read_offset[tp] = batch[-1].offset
            self.app.monitor.stream_inbound_time[tp] = now
        return spans

    async def _add_to_settled(self, keep: int) -> None:
        """Acknowledge handled batches, oldest first, once Kafka has their output.

        Waits while more than ``keep`` batches are in flight; a failed send raises here.
        """
        while self._in_flight and (self._in_flight[0][0].done() or len(self._in_flight) > keep):
            sent, spans = self._in_flight[0]
            await sent
            self._in_flight.popleft()
            self._acknowledge(spans)

    async def wait_empty(self) -> None:
        """faust waits here before a rebalance or a stop: batches in flight first."""
        await self._add_to_settled(keep=0)
        await super().wait_empty()

    def _acknowledge(self, spans: list[Span]) -> None:
        """Mark every offset of each span acknowledged, as ``ack`` does one by one."""
        with ack_lock:
            for tp, first, last in spans:
                self._acknowledge_range(tp, first, last)
            notify(self._waiting_for_ack)

    def _acknowledge_range(self, tp: TP, first: int, last: int) -> None:
        index = self._acked_index[tp]
        start = max(first, self._committed_offset[tp] or 0)
        offsets = [offset for offset in range(start, last + 1) if offset not in index]
        index.update(offsets)
        self._acked[tp].extend(offsets)
        self._n_acked += len(offsets)

    async def _one_at_a_time(self, batches: list[tuple[TP, Records]], generation: int) -> None:
        recovery = cast(Any, self.app.tables).recovery
        for number, (tp, batch) in enumerate(batches):
            table = recovery.tp_to_table.get(tp) if tp in recovery.active_tps else None
            if table is not None and len(batch) > 1:
                # a recovering changelog: all but the last record go straight to the table;
                # faust's recovery sees the last, which moves its offsets and ends it in time
                recovery.flush_buffers()  # entries faust holds are older: they go first
                apply_changelog(table, tp.partition, batch[:-1])
                self._read_offset[tp] = batch[-2].offset
                batch = batch[-1:]
            for index, record in enumerate(batch):
                if not self._unchanged_since(generation):
                    await self._fetch_again([(tp, batch[index:]), *batches[number + 1 :]])
                    return
                await self._deliver_one(self._to_message(tp, record))
                self._read_offset[tp] = record.offset

    async def _deliver_one(self, message: Any) -> None:
        """faust's callback, raced with a flow suspension only if it has to wait."""
        delivery = cast(Coroutine[Any, Any, Any], self.callback(message))
        try:
            pending = delivery.send(None)
        except StopIteration:
            return  # taken at once: the usual case, without the two tasks of wait_first
        await self.wait_first(_resume(delivery, pending), self.suspend_flow.wait())


def apply_changelog(table: Any, partition: int, records: Records) -> None:
    """Apply changelog records to a faust table's in-memory store, as faust's recovery does."""
    loads_key = codecs.get_codec(table.key_serializer).loads
    loads_value = codecs.get_codec(table.value_serializer).loads
    # Only a key's last record stands: decode that one (a call's state is written after
    # every batch that changed it, so a changelog not yet compacted holds several).
    latest = {record.key: record.value for record in records}
    entries = [(loads_key(k), None if v is None else loads_value(v)) for k, v in latest.items()]
    store = table.data
    if isinstance(store, PackingStore):
        store.apply_entries(partition, entries)
        return
    partitions = store._key_partition  # which partition each key came from
    for key, value in entries:
        if value is None:
            store.pop(key, None)
            partitions.pop(key, None)
        else:
            store[key] = value
            partitions[key] = partition


async def _resume(coroutine: Coroutine[Any, Any, Any], pending: Any) -> Any:
    return await _continue(coroutine, pending)


@types.coroutine
def _continue(coroutine: Coroutine[Any, Any, Any], pending: Any) -> Generator[Any, Any, Any]:
    """Go on with a coroutine already started by hand, from the future it is waiting on."""
    while True:
        try:
            try:
                sent = yield pending  # the task running us wakes us when it is done
            except BaseException as error:  # noqa: BLE001 (cancellation included: pass it on)
                pending = coroutine.throw(error)
            else:
                pending = coroutine.send(sent)
        except StopIteration as stop:
            return stop.value


def split_off(
    batches: list[tuple[TP, Records]], limit: int | None
) -> tuple[list[tuple[TP, Records]], list[tuple[TP, Records]]]:
    """The first ``limit`` records of ``batches`` (all of them for ``None``), and the rest."""
    if limit is None:
        return batches, []
    piece: list[tuple[TP, Records]] = []
    for number, (tp, batch) in enumerate(batches):
        if len(batch) >= limit:
            piece.append((tp, batch[:limit]))
            rest = [(tp, batch[limit:])] if len(batch) > limit else []
            return piece, rest + batches[number + 1 :]
        piece.append((tp, batch))
        limit -= len(batch)
    return piece, []


class PromptFetchThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's consumer thread, whose aiokafka consumer waits at most :data:`FETCH_MAX_WAIT_MS`
    for a fetch."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer


class BatchTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport with :class:`BatchConsumer` and its handlers by topic name."""

    Consumer = BatchConsumer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handlers: dict[str, BatchHandler] = {}
        self.requests = RequestsWaiting()  # the worker gives its pages' middleware this one


Expiry = Callable[[str, bytes], int]


class PackingStore(memory.Store[str, Any]):
    """A memory store whose changelog recovery sends packed values to ``cold``."""

    cold: ColdStore
    expiry: Expiry

    def apply_changelog_batch(
        self, batch: Iterable[EventT[Any]], to_key: Callable[[Any], Any], to_value: Callable[[Any], Any]
    ) -> None:
        """faust's recovery: its events, by partition, through :meth:`apply_entries`."""
        by_partition: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
        for event in batch:
            value = None if event.message.value is None else to_value(event.value)
            by_partition[event.message.partition].append((to_key(event.key), value))
        for partition, entries in by_partition.items():
            self.apply_entries(partition, entries)

    def apply_entries(self, partition: int, entries: Iterable[tuple[Any, Any]]) -> None:
        """Set, or delete (value ``None``), entries read back from one changelog partition, in order."""
        packed: dict[str, bytes] = {}
        not_cold: set[str] = set()
        for key, value in entries:
            self.data.pop(key, None)
            self._key_partition.pop(key, None)
            packed.pop(key, None)
            if isinstance(value, bytes):
                packed[key] = value
                not_cold.discard(key)
                continue
            not_cold.add(key)
            if value is not None:
                self.data[key] = value
                self._key_partition[key] = partition
        self.cold.delete(not_cold)
        self.cold.put(partition, [(key, self.expiry(key, data), data) for key, data in packed.items()])


def pack_on_recovery(table: Any, cold: ColdStore, expiry: Expiry) -> None:
    """Give a faust table a :class:`PackingStore` (before its store is first used)."""
    store = PackingStore("memory://", table.app, table, table_name=table.name, loop=table.loop)
    store.cold, store.expiry = cold, expiry
    table._data = store


def new_changelog_topic(table: Any) -> None:
    """Make a table's changelog topic again, after its serializers were changed."""
    table.changelog_topic = table._new_changelog_topic()


def recovered_key_partitions(table: Any) -> dict[str, int]:
    """The partition of each key faust's memory store read back from the changelog (mutable)."""
    partitions: dict[str, int] = table.data._key_partition
    return partitions


def consumer_lag(app: Any, topics: set[str]) -> dict[str, int]:
    """Messages between each assigned partition's read position and its end, summed by topic."""
    consumer: Any = app.consumer
    lag: dict[str, int] = defaultdict(int)
    for tp in app.assignor.assigned_actives():
        if tp.topic not in topics:
            continue  # changelogs are read by recovery, not by the streams
        read = consumer._read_offset.get(tp)  # faust keeps the last offset it read per partition
        end = consumer.highwater(tp)
        if end is not None:
            lag[tp.topic] += max(0, end - (read + 1 if read is not None else 0))
    return dict(lag)


def forget_changelog_read_offsets(app: Any) -> None:
    """Work around a faust recovery hang after a rebalance (call when partitions are revoked).

    Recovery re-reads a changelog from its start with ``seek_wait``, which, unlike
    ``Consumer.seek``, keeps the last read offset; the fetch loop then drops every re-read
    message as already seen and recovery waits forever ("No event received for active
    tp ..."). Forgetting changelog read offsets before the next assignment avoids that.
    """
    read_offsets = app.consumer._read_offset
    for tp in [tp for tp in read_offsets if tp.topic.endswith("-changelog")]:
        read_offsets[tp] = None


class PrivateName(NamedTuple):
    """A private name used here: where it lives (``module:Class``), and the name."""

    owner: str
    name: str


PRIVATE_NAMES = (
    PrivateName("faust.transport.drivers.aiokafka:Consumer", "_drain_messages"),
    PrivateName("faust.transport.drivers.aiokafka:Consumer", "_wait_next_records"),
    PrivateName("faust.transport.drivers.aiokafka:Consumer", "_get_active_partitions"),
    PrivateName("faust.transport.drivers.aiokafka:Consumer", "_to_message"),
    PrivateName("faust.transport.drivers.aiokafka:Consumer", "_new_consumer_thread"),
    PrivateName("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread", "_create_worker_consumer"),
    PrivateName("aiokafka.consumer.consumer:AIOKafkaConsumer", "_fetch_max_wait_ms"),
    PrivateName("faust.transport.consumer:Consumer", "_read_offset"),
    PrivateName("faust.transport.consumer:Consumer", "_acked_index"),
    PrivateName("faust.transport.consumer:Consumer", "_acked"),
    PrivateName("faust.transport.consumer:Consumer", "_committed_offset"),
    PrivateName("faust.transport.consumer:Consumer", "_n_acked"),
    PrivateName("faust.transport.consumer:Consumer", "_commit_every"),
    PrivateName("faust.transport.consumer:Consumer", "_waiting_for_ack"),
    PrivateName("faust.transport.consumer:Consumer", "_buffered_partitions"),
    PrivateName("mode.services:Service", "_stopped"),
    PrivateName("faust.stores.memory:Store", "_key_partition"),
    PrivateName("faust.tables.base:Collection", "_data"),
    PrivateName("faust.tables.base:Collection", "_new_changelog_topic"),
)


def missing_private_names(names: Iterable[PrivateName] = PRIVATE_NAMES) -> list[str]:
    """The private names faust (or mode, or aiokafka) no longer has, as ``owner.name``."""
    return [f"{p.owner}.{p.name}" for p in names if not _has(p)]


def _has(private: PrivateName) -> bool:
    """Whether the class has the attribute, or its ``__init__`` (or a base's) sets it."""
    module_name, class_name = private.owner.split(":")
    owner = getattr(importlib.import_module(module_name), class_name)
    if hasattr(owner, private.name):
        return True
    sources = (
        inspect.getsource(base)
        for base in owner.__mro__
        if base.__module__.split(".")[0] in ("faust", "mode", "aiokafka")
    )
    return any(f"self.{private.name} =" in source or f"self.{private.name}:" in source for source in sources)
