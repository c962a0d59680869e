"""Long work on the event loop that lets everything else in: whenever the work has held the
loop for a slice of time, it waits one turn of the loop. A slice is never shorter than the
turn before it took: when the other tasks are busy (a worker catching up, its batches taking
a quarter of a second each) the work still has half the loop's time, so a scrape ends in
about twice its own time rather than after dozens of batches. Usage::

    turns = LoopTurns()
    for queue in queues:
        snapshots.append(queue.snapshot(now))
        await turns.give_if_due()
    turns.worked_seconds()      # the work's own time, the turns left out
"""

from __future__ import annotations

import asyncio
import time

# The longest the worker's long jobs (a snapshot, its page, the agent list) hold the event loop
# before other tasks get a turn: consumers, producers, scrapes.
SLICE_SECONDS = 0.02


class LoopTurns:
    """Gives the event loop a turn whenever the work has held it for ``slice_seconds``
    (by default :data:`SLICE_SECONDS`)."""

    def __init__(self, slice_seconds: float | None = None) -> None:
        self.slice_seconds = SLICE_SECONDS if slice_seconds is None else slice_seconds
        self.turns = 0
        self._worked = 0.0  # seconds of work before the latest turn
        self._since = time.monotonic()  # the work's start, or the latest turn's end
        self._slice = self.slice_seconds  # this one: at least as long as the latest turn

    async def give_if_due(self) -> None:
        now = time.monotonic()
        if now - self._since >= self._slice:
            self._worked += now - self._since
            self.turns += 1
            await asyncio.sleep(0)
            self._since = time.monotonic()
            self._slice = max(self.slice_seconds, self._since - now)

    def worked_seconds(self) -> float:
        """The work's own seconds so far: what it cost, the other tasks' turns left out."""
        return self._worked + time.monotonic() - self._since
