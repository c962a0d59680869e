"""Long work gives the event loop turns, and keeps half of its time when the others are busy."""

from __future__ import annotations

import asyncio
import time

from stream.exporter.loop_turns import LoopTurns


async def _work(turns: LoopTurns, milliseconds: int) -> None:
    """Work holding the loop for ``milliseconds``, a millisecond at a time."""
    for _ in range(milliseconds):
        time.sleep(0.001)
        await turns.give_if_due()


async def _other_task(hold_seconds: float, done: asyncio.Event) -> None:
    """Another task holding the loop ``hold_seconds`` at each of its turns."""
    while not done.is_set():
        time.sleep(hold_seconds)
        await asyncio.sleep(0)


async def _work_beside(hold_seconds: float, slice_seconds: float, milliseconds: int) -> LoopTurns:
    done, turns = asyncio.Event(), LoopTurns(slice_seconds)
    other = asyncio.ensure_future(_other_task(hold_seconds, done))
    await _work(turns, milliseconds)
    done.set()
    await other
    return turns


async def test_idle_others_get_a_turn_every_slice() -> None:
    turns = await _work_beside(0.0, 0.005, 100)
    worked = turns.worked_seconds()
    assert 0.1 <= worked < 0.5  # the others' turns are not counted as the work's
    assert worked / 0.02 <= turns.turns <= worked / 0.005 + 1  # slices of 5 ms (a step may run over)


async def test_busy_others_leave_the_work_half_of_the_time() -> None:
    turns = await _work_beside(0.03, 0.005, 100)
    assert turns.turns <= 6  # slices as long as the others' 30 ms turns, not 20 slices of 5 ms
