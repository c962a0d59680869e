"""Event-time window sums, kept incrementally as "now" moves forward.

A rolling window ``W`` at instant ``t`` covers event times in ``(t - W, t]``; ``today``
covers ``[start of t's local day, t]``; ``total`` covers every time up to ``t``. Values
are integers (counts and microseconds), so adding and taking back are exact. Usage::

    sums = WindowSums(slots=2, rolling_us={"5m": 300_000_000}, zone=ZoneInfo("UTC"))
    sums.add(at_us=1_000_000, slot=0, value=1)
    sums.advance(now_us=2_000_000)
    sums.values()["5m"][0]     # 1
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from heapq import heapify, heappop, heappush
from zoneinfo import ZoneInfo

from metrics.settled import Settled
from metrics.timeutil import day_start_us, local_date, next_day_start_us
from metrics.window_log import ContributionLog

TODAY = "today"
# Stale heap entries allowed beyond half the heap before it is compacted: small, as a worker
# holds a window sum per queue and per agent (5,000 of them at 1,024 each held 15 MB).
_STALE_SLACK = 16
TOTAL = "total"


class WindowSums:
    """Sums per window of contributions placed at event times."""

    def __init__(self, slots: int, rolling_us: dict[str, int], zone: ZoneInfo) -> None:
        self._rolling = dict(rolling_us)
        self._retain_us = max(self._rolling.values(), default=0)
        self._zone = zone
        # Contributions at or before now, while a rolling window may still hold them.
        self._past = ContributionLog()
        # Contributions after now (and all of them before now is first set), in buckets by time;
        # their times in a heap that now pops into the past as it passes them. Sorting every
        # time instead cost each snapshot a sort of all times, as many as waiting calls.
        self._future: list[int] = []
        self._stale_future = 0  # entries of the heap whose bucket was emptied
        self._buckets: dict[int, dict[int, int]] = {}
        self._now: int | None = None
        self._day = (0, 0)  # [start, end) of now's local day
        self._sums = {name: [0] * slots for name in [*self._rolling, TODAY, TOTAL]}
        self._settled: Settled | None = None

    @property
    def now_us(self) -> int | None:
        return self._now

    @property
    def day_start_us(self) -> int:
        """The first instant of now's local day (once now is set)."""
        return self._day[0]

    def add(self, at_us: int, slot: int, value: int) -> None:
        """Add ``value`` to ``slot`` at event time ``at_us`` (negative to take it back)."""
        self.add_all(((at_us, slot, value),), 1)

    def add_all(self, contributions: Iterable[tuple[int, int, int]], sign: int) -> None:
        """Add ``sign * value`` to ``slot`` at ``at_us`` for each ``(at_us, slot, value)``."""
        now = self._now
        if now is None:  # before now is set: every contribution waits in a bucket
            for at_us, slot, value in contributions:
                if value:
                    self._add_future(at_us, slot, value * sign)
            return
        kept_after, past = now - self._retain_us, self._past
        for at_us, slot, value in contributions:
            if not value:
                continue
            value *= sign
            if at_us > now:
                self._add_future(at_us, slot, value)
                continue
            if at_us > kept_after:
                past.add(at_us, slot, value)
            self._count_now(at_us, slot, value, now)

    def _add_future(self, at_us: int, slot: int, value: int) -> None:
        bucket = self._buckets.get(at_us)
        if bucket is None:
            self._buckets[at_us] = {slot: value}
            if self._now is None:
                self._future.append(at_us)  # sorted once, when now is first set (a replay's whole file)
            else:
                heappush(self._future, at_us)
            return
        total = bucket.get(slot, 0) + value
        if total:
            bucket[slot] = total
        else:
            self._take_back(at_us, bucket, slot)

    def _take_back(self, at_us: int, bucket: dict[int, int], slot: int) -> None:
        """A slot summed back to zero: keep no empty slot or bucket (a waiting call's future
        contributions are taken back when it is answered, hours before their time)."""
        del bucket[slot]
        if bucket:
            return
        del self._buckets[at_us]  # its time stays in the heap until passed
        self._stale_future += 1
        if self._stale_future > len(self._future) // 2 + _STALE_SLACK:
            self._compact_future()

    def _compact_future(self) -> None:
        """Keep only the heap's times that still have a bucket, once each: a walk of the heap
        alone, paid for by the stale entries (at least half of it) that it drops."""
        buckets = self._buckets
        self._future = list({at for at in self._future if at in buckets})
        heapify(self._future)  # before now is set, a list in any order (sorted when it is)
        self._stale_future = 0

    def _entering(self, now: int, first: bool) -> list[int]:
        """The future times up to ``now``, in order, taken from the heap."""
        future = self._future
        if first:  # placed unsorted before now was set; sorted, the list is a heap as well
            future.sort()
            count = bisect_right(future, now)
            entering = future[:count]
            del future[:count]
            return entering
        entering = []
        while future and future[0] <= now:
            entering.append(heappop(future))
        return entering

    def _enter(self, now: int, first: bool) -> list[int]:
        """Move the buckets up to ``now`` from the heap to the past; the sum of their contributions.

        They come in time order, after every time in the past (which ends at the old now)."""
        sums = [0] * len(self._sums[TOTAL])
        past, buckets = self._past, self._buckets
        for at in self._entering(now, first):
            bucket = buckets.pop(at, None)
            if bucket is None:  # emptied, or pushed again
                self._stale_future = max(0, self._stale_future - 1)
                continue
            for slot, value in bucket.items():
                sums[slot] += value
                past.add(at, slot, value)
        return sums

    def _count_now(self, at_us: int, slot: int, value: int, now: int) -> None:
        """Add a contribution at or before now to the sums of the windows that cover it."""
        self._sums[TOTAL][slot] += value
        if at_us >= self._day[0]:
            self._sums[TODAY][slot] += value
        for name, width in self._rolling.items():
            if at_us > now - width:
                self._sums[name][slot] += value

    def restore(self, settled: Settled) -> None:
        """Count contributions of visits expired before a restart (before the first advance)."""
        assert self._now is None, "restore before now is first set"
        self._settled = settled

    def advance(self, now_us: int) -> None:
        """Move now forward to ``now_us``; moving it back is ignored."""
        old = self._now
        if old is not None and now_us <= old:
            return
        self._now = now_us
        entered = self._enter(now_us, first=old is None)
        if old is None:
            self._recount(now_us)
        else:
            self._move(old, now_us, entered)
        self._drop_buckets_before(now_us - self._retain_us)

    def values(self) -> dict[str, list[int]]:
        """A copy of the sums per window name (rolling names, ``today``, ``total``)."""
        return {name: list(sums) for name, sums in self._sums.items()}

    def _recount(self, now: int) -> None:
        self._day = self._day_around(now)
        self._accumulate(TOTAL, None, now, +1)
        self._accumulate(TODAY, self._day[0] - 1, now, +1)
        if self._settled is not None:
            _add_into(self._sums[TOTAL], self._settled.total, +1)
            if self._settled.day_start_us == self._day[0]:
                _add_into(self._sums[TODAY], self._settled.today, +1)
        for name, width in self._rolling.items():
            self._accumulate(name, now - width, now, +1)

    def _move(self, old: int, now: int, entered: list[int]) -> None:
        """``entered``: the sums of ``(old, now]``, which entered every window at once."""
        _add_into(self._sums[TOTAL], entered, +1)
        for name, width in self._rolling.items():
            if now - old >= width:  # nothing of the old window is left: sum the new one (a replay's jumps)
                self._sums[name] = self._sum_range(now - width, now)
            else:
                _add_into(self._sums[name], entered, +1)
                _add_into(self._sums[name], self._sum_range(old - width, now - width), -1)
        if now >= self._day[1]:
            self._day = self._day_around(now)
            self._sums[TODAY] = self._sum_range(self._day[0] - 1, now)
        else:
            _add_into(self._sums[TODAY], entered, +1)

    def _accumulate(self, name: str, after: int | None, upto: int, sign: int) -> None:
        _add_into(self._sums[name], self._sum_range(after, upto), sign)

    def _sum_range(self, after: int | None, upto: int) -> list[int]:
        """Per slot, the sum of the past contributions with ``after < time <= upto`` (``None``:
        no lower bound)."""
        return self._past.sum_range(after, upto, len(self._sums[TOTAL]))

    def _day_around(self, now: int) -> tuple[int, int]:
        day = local_date(now, self._zone)
        return (day_start_us(day, self._zone), next_day_start_us(day, self._zone))

    def _drop_buckets_before(self, cutoff: int) -> None:
        self._past.drop_through(cutoff)


def _add_into(sums: list[int], values: list[int], sign: int) -> None:
    for slot, value in enumerate(values):
        if value:
            sums[slot] += sign * value
