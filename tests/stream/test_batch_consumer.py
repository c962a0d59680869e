"""The batch consumer's two pieces that run without a broker: acknowledging offsets in
ranges (checked against faust's own commit arithmetic) and finishing a delivery that had
to wait. The whole consumer runs in every integration test."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree

from stream.batch_consumer import BatchConsumer, _resume

PARTITION = TP("callcenter.calls", 0)


def offsets_consumer(read: int | None = None, committed: int | None = None) -> Any:
    """The attributes of faust's consumer that acknowledging and committing use."""
    return SimpleNamespace(
        _read_offset={PARTITION: read},
        _committed_offset={PARTITION: committed},
        _acked=defaultdict(list),
        _acked_index=defaultdict(set),
        _gap=defaultdict(IntervalTree),
        _n_acked=0,
    )


def acknowledge(consumer: Any, first: int, last: int) -> int | None:
    """Acknowledge a batch; return the offset faust would commit next."""
    BatchConsumer._acknowledge_range(consumer, PARTITION, first, last)
    return Consumer._new_offset(consumer, PARTITION)


def test_a_batch_from_the_start_commits_past_its_last_offset() -> None:
    consumer = offsets_consumer()
    assert acknowledge(consumer, 0, 9) == 10
    assert consumer._n_acked == 10


def test_offsets_missing_between_batches_do_not_hold_the_commit_back() -> None:
    consumer = offsets_consumer(read=9, committed=10)
    assert acknowledge(consumer, 14, 20) == 21  # 10 to 13 were compacted away


def test_offsets_below_the_committed_one_are_not_acknowledged_again() -> None:
    consumer = offsets_consumer(read=3, committed=8)
    assert acknowledge(consumer, 4, 12) == 13
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
