"""The batch consumer's pieces that run without a broker: acknowledging offsets in ranges
(checked against faust's own commit arithmetic), finishing a delivery that had to wait,
applying changelog records. The whole consumer runs in every integration test."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree

from metrics.settled import Settled
from stream.faust_internals import (
    FETCH_MAX_WAIT_MS,
    BatchConsumer,
    BatchTransport,
    PromptFetchThread,
    _resume,
    apply_changelog,
)
from stream.state_codecs import encode_state, register_codecs

PARTITION = TP("callcenter.calls", 0)


def offsets_consumer(read: int | None = None, committed: int | None = None) -> Any:
    """The attributes of faust's consumer that reading, acknowledging and committing use."""
    return SimpleNamespace(
        _read_offset={PARTITION: read},
        _committed_offset={PARTITION: committed},
        _acked=defaultdict(list),
        _acked_index=defaultdict(set),
        _gap=defaultdict(IntervalTree),
        _n_acked=0,
        app=SimpleNamespace(monitor=SimpleNamespace(stream_inbound_time={})),
    )


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
