"""Who calls, in the simulator: most arrivals are new callers, some call back.

A caller who gave up, or waited long for an answer, may call the same queue again a few
minutes later (the usual repeat call); the simulator takes the number of such a caller for the
queue's next even-numbered arrival once they are ready, instead of a new one. Decided by
numbers and times, never drawn: a seeded simulation's traffic stays exactly what it was
before callers had numbers. Usage::

    callers = ReturningCallers()
    caller = callers.caller_for(number, "sales", now_us)          # "+15550000042", or a returning one
    callers.call_back_later(caller, "sales", now_us + 180 * US)   # e.g. after an abandon
"""

from __future__ import annotations

import heapq

from metrics.timeutil import US

ABANDONED_RETURN_US = 3 * 60 * US  # a caller who gave up tries again this long after
UNHAPPY_RETURN_US = 20 * 60 * US  # one answered after a long wait calls again about the same matter
MAX_WAITING_TO_RETURN = 1_000  # beyond this many, the newest give up for good


class ReturningCallers:
    """Caller numbers for arrivals; callers waiting to call a queue back, by when they are ready.

    >>> callers = ReturningCallers()
    >>> first = callers.caller_for(1, "sales", 0)
    >>> callers.call_back_later(first, "sales", 10)
    >>> [callers.caller_for(2, "sales", 5) == first, callers.caller_for(4, "billing", 10) == first]
    [False, False]
    >>> callers.caller_for(6, "sales", 10) == first
    True
    """

    def __init__(self) -> None:
        self._ready: dict[str, list[tuple[int, str]]] = {}  # queue -> a heap of (ready at, caller)

    def caller_for(self, number: int, queue: str, now_us: int) -> str:
        """The caller of arrival ``number`` at ``queue``: every other one may be a returning caller."""
        ready = self._ready.get(queue)
        if number % 2 == 0 and ready and ready[0][0] <= now_us:
            return heapq.heappop(ready)[1]
        return f"+1555{number % 10_000_000:07d}"

    def call_back_later(self, caller: str, queue: str, ready_us: int) -> None:
        ready = self._ready.setdefault(queue, [])
        if len(ready) < MAX_WAITING_TO_RETURN:
            heapq.heappush(ready, (ready_us, caller))
