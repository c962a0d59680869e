"""The calls waiting in one queue: how many wait at an instant, and the longest wait.

Each call holds its ``[queued, end)`` interval (:func:`metrics.rules.waiting_interval`). A
snapshot asks every queue, so the usual answer (every call held waits now) comes from a heap
of queue times and two bounds, not from a walk over all of them: a queue with a hundred
thousand callers (a feed of ``call.queued`` alone) would otherwise cost each snapshot tens
of milliseconds, all of it added to every event's way to ``/metrics``. Usage::

    waiting = WaitingCalls()
    waiting.hold("c1", (queued_us, end_us))
    waiting.at(now_us)          # (1, now_us - queued_us)
    waiting.discard("c1")
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Final

_NEVER: Final = 2**63


class WaitingCalls:
    """Call id -> waiting interval, with the oldest queue time found fast."""

    def __init__(self) -> None:
        self._intervals: dict[str, tuple[int, int]] = {}
        self._starts: list[tuple[int, str]] = []  # a heap; entries of calls gone or changed stay until on top
        self._latest_start = -_NEVER  # no interval held starts after it
        self._earliest_end = _NEVER  # no interval held ends before it

    def __len__(self) -> int:
        return len(self._intervals)

    def hold(self, call_id: str, interval: tuple[int, int]) -> None:
        self._intervals[call_id] = interval
        heappush(self._starts, (interval[0], call_id))
        self._latest_start = max(self._latest_start, interval[0])
        self._earliest_end = min(self._earliest_end, interval[1])
        if len(self._starts) > 2 * len(self._intervals) + 64:
            self._rebuild()

    def discard(self, call_id: str) -> None:
        self._intervals.pop(call_id, None)

    def drop_ended(self, now_us: int) -> None:
        """Forget the calls whose waiting ended by ``now_us`` (they never wait again)."""
        if now_us < self._earliest_end:
            return  # none ended: no walk over every call held
        self._intervals = {c: w for c, w in self._intervals.items() if w[1] > now_us}
        self._rebuild()

    def at(self, now_us: int) -> tuple[int, int]:
        """How many calls wait at ``now_us``, and the longest wait then (microseconds)."""
        if not self._intervals:
            return 0, 0
        if self._latest_start <= now_us < self._earliest_end:  # every call held waits now
            return len(self._intervals), now_us - self._oldest_start()
        return self._scan(now_us)

    def _oldest_start(self) -> int:
        starts, intervals = self._starts, self._intervals
        while True:
            start, call_id = starts[0]
            held = intervals.get(call_id)
            if held is not None and held[0] == start:
                return start
            heappop(starts)

    def _scan(self, now_us: int) -> tuple[int, int]:
        """Every interval looked at (some call does not wait now); the bounds made exact."""
        values = self._intervals.values()
        self._latest_start = max(start for start, _ in values)
        self._earliest_end = min(end for _, end in values)
        waits = [now_us - start for start, end in values if start <= now_us < end]
        return len(waits), max(waits, default=0)

    def _rebuild(self) -> None:
        self._starts = [(interval[0], call_id) for call_id, interval in self._intervals.items()]
        heapify(self._starts)
        values = self._intervals.values()
        self._latest_start = max((start for start, _ in values), default=-_NEVER)
        self._earliest_end = min((end for _, end in values), default=_NEVER)
