"""The batch consumer's pieces that run without a broker: acknowledging offsets in ranges
(checked against faust's own commit arithmetic), finishing a delivery that had to wait,
applying changelog records, handing a batch over in pieces. The whole consumer runs in every
integration test."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.consumer import Consumer
from faust.types import TP

from metrics.settled import Settled
from stream.faust_internals import (
    FETCH_MAX_WAIT_MS,
    BatchConsumer,
    BatchTransport,
    PromptFetchThread,
    _resume,
    apply_changelog,
    split_off,
)
from stream.requests_waiting import RequestsWaiting
from stream.state_codecs import encode_state, register_codecs
from tests.stream.consumers import PARTITION, hand_over_consumer, offsets_consumer, records_at


def handle(consumer: Any, *offsets: int) -> int | None:
    """Take and acknowledge records at these offsets; return the offset faust would commit."""
    records = [SimpleNamespace(offset=offset) for offset in offsets]
    for tp, first, last in BatchConsumer._take(consumer, [(PARTITION, records)]):
        BatchConsumer._acknowledge_range(consumer, tp, first, last)
    return Consumer._new_offset(consumer, PARTITION)


def test_a_batch_from_the_start_commits_past_its_last_offset() -> None:
    consumer = offsets_consumer()
    assert handle(consumer, *range(10)) == 10
    assert consumer._n_acked == 10
    assert consumer._read_offset[PARTITION] == 9


def test_offsets_missing_between_batches_do_not_hold_the_commit_back() -> None:
    consumer = offsets_consumer(read=9, committed=10)
    assert handle(consumer, 14, 15, 20) == 21  # 10 to 13 and 16 to 19 were compacted away


def test_offsets_below_the_committed_one_are_not_acknowledged_again() -> None:
    consumer = offsets_consumer(read=3, committed=8)
    assert handle(consumer, *range(4, 13)) == 13
    assert consumer._n_acked == 5


async def test_a_delivery_started_by_hand_finishes_in_a_task() -> None:
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def delivery() -> int:
        await asyncio.sleep(0)
        return await gate + 1

    coroutine = delivery()
    task = asyncio.ensure_future(_resume(coroutine, coroutine.send(None)))
    await asyncio.sleep(0)
    gate.set_result(41)
    assert await task == 42


async def test_an_error_inside_the_delivery_reaches_the_task() -> None:
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def delivery() -> int:
        return await gate

    coroutine = delivery()
    task = asyncio.ensure_future(_resume(coroutine, coroutine.send(None)))
    gate.set_exception(ValueError("broken"))
    with pytest.raises(ValueError, match="broken"):
        await task


async def test_cancelling_the_task_cancels_the_delivery() -> None:
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def delivery() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    coroutine = delivery()
    task = asyncio.ensure_future(_resume(coroutine, coroutine.send(None)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


class MemoryStore(dict[str, Any]):
    """faust's memory store as apply_changelog uses it: a mapping that knows key partitions."""

    def __init__(self) -> None:
        super().__init__()
        self._key_partition: dict[str, int] = {}


def test_changelog_records_set_and_delete_table_entries_in_order() -> None:
    register_codecs()
    table = SimpleNamespace(key_serializer="ccm-str", value_serializer="ccm-settled", data=MemoryStore())
    earlier, later = Settled(0, [1, 0], [1, 0]), Settled(0, [1, 2], [5, 2])
    records = [
        SimpleNamespace(key=b"sales", value=encode_state(earlier)),
        SimpleNamespace(key=b"support", value=encode_state(earlier)),
        SimpleNamespace(key=b"sales", value=encode_state(later)),
        SimpleNamespace(key=b"support", value=None),  # a tombstone
        SimpleNamespace(key=b"billing", value=None),
        SimpleNamespace(key=b"billing", value=encode_state(earlier)),  # set again after it
    ]
    apply_changelog(table, 2, records)
    assert table.data == {"sales": later, "billing": earlier}
    assert table.data._key_partition == {"sales": 2, "billing": 2}


async def test_the_worker_consumer_waits_for_a_fetch_at_most_the_prompt_bound() -> None:
    app = faust.App(f"fetch-wait-{uuid.uuid4().hex[:6]}", broker="kafka://127.0.0.1:1", store="memory://")
    app.transport = BatchTransport(app.conf.broker_consumer, app)
    thread = app.consumer._thread
    assert isinstance(thread, PromptFetchThread)
    consumer = thread._create_worker_consumer(app.transport)
    await consumer.stop()  # never started: only closes it
    assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS <= 250  # faust alone asks for 1,500


def offsets_of(batches: list[tuple[TP, list[Any]]]) -> list[tuple[int, list[int]]]:
    return [(tp.partition, [record.offset for record in batch]) for tp, batch in batches]


OTHER = TP("callcenter.calls", 1)


def test_split_off_takes_whole_batches_without_a_limit() -> None:
    batches = [(PARTITION, records_at(0, 1)), (OTHER, records_at(5))]
    assert split_off(batches, None) == (batches, [])


def test_split_off_takes_the_first_records_across_partitions() -> None:
    batches = [(PARTITION, records_at(0, 1)), (OTHER, records_at(5, 6, 7))]
    piece, rest = split_off(batches, 3)
    assert offsets_of(piece) == [(0, [0, 1]), (1, [5])]
    assert offsets_of(rest) == [(1, [6, 7])]
    piece, rest = split_off(batches, 2)
    assert offsets_of(piece) == [(0, [0, 1])] and offsets_of(rest) == [(1, [5, 6, 7])]
    assert split_off(batches, 9) == (batches, [])


async def test_while_a_request_is_answered_a_batch_goes_over_in_pieces_with_turns_between() -> None:
    waiting = RequestsWaiting(piece_seconds=0.01)
    waiting.handled(PARTITION.topic, records=100, seconds=0.01)  # 100 µs a record: pieces of 100
    consumer, handed, turns = hand_over_consumer(waiting), [], [0]

    async def handler(records: list[Any]) -> Any:
        handed.append((len(records), turns[0]))
        time.sleep(0.0001 * len(records))  # the consumer times it: its next pieces' measure
        return asyncio.sleep(0)

    async def other_task(done: asyncio.Event) -> None:
        while not done.is_set():
            turns[0] += 1
            await asyncio.sleep(0)

    waiting.answering, done = 1, asyncio.Event()
    other = asyncio.ensure_future(other_task(done))
    try:
        batches = [(PARTITION, records_at(*range(250)))]
        await BatchConsumer._hand_over(consumer, PARTITION.topic, handler, batches, 0)
    finally:
        done.set()
        await other
    sizes = [size for size, _ in handed]
    assert sizes[0] == 100 and max(sizes) <= 100 and sum(sizes) == 250  # slower: smaller pieces
    assert [turn for _, turn in handed] == sorted({turn for _, turn in handed})  # a turn between each
    assert consumer._read_offset[PARTITION] == 249
    spans = [span for _, piece in consumer._in_flight for span in piece]
    assert spans[0] == (PARTITION, 0, 99) and spans[-1][2] == 249
    assert all(later[1] == earlier[2] + 1 for earlier, later in itertools.pairwise(spans))


async def test_without_requests_a_batch_goes_over_in_pieces_of_the_busy_time() -> None:
    waiting = RequestsWaiting(busy_piece_seconds=0.01)
    waiting.handled(PARTITION.topic, records=100, seconds=0.1)  # a millisecond a record
    consumer, handed = hand_over_consumer(waiting), []

    async def handler(records: list[Any]) -> Any:
        handed.append(len(records))
        return asyncio.sleep(0)

    await BatchConsumer._hand_over(
        consumer, PARTITION.topic, handler, [(PARTITION, records_at(*range(30)))], 0
    )
    assert handed[0] == 10 and sum(handed) == 30  # then larger: these records took no time


async def test_a_rebalance_between_pieces_leaves_the_rest_to_be_fetched_again() -> None:
    waiting = RequestsWaiting(busy_piece_seconds=0.01)
    waiting.handled(PARTITION.topic, records=100, seconds=0.1)
    consumer, handed, again = hand_over_consumer(waiting), [], []

    async def handler(records: list[Any]) -> Any:
        handed.append(len(records))
        consumer.app.consumer_generation_id += 1  # a rebalance began meanwhile
        return asyncio.sleep(0)

    async def fetch_again(batches: list[tuple[TP, list[Any]]]) -> None:
        again.extend(offsets_of(batches))

    consumer._fetch_again = fetch_again
    await BatchConsumer._hand_over(
        consumer, PARTITION.topic, handler, [(PARTITION, records_at(*range(30)))], 0
    )
    assert handed == [10] and again == [(0, list(range(10, 30)))]
