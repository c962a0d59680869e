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

from bisect import bisect_left, bisect_right
from heapq import heapify, heappop, heappush
from typing import Final
from zoneinfo import ZoneInfo

from metrics.settled import Settled
from metrics.timeutil import day_start_us, local_date, next_day_start_us
from metrics.window_log import Contribution, ContributionLog

TODAY: Final = "today"
# Stale heap entries allowed beyond half the heap before it is compacted: small, as a worker
# holds a window sum per queue and per agent (5,000 of them at 1,024 each held 15 MB).
_STALE_SLACK: Final = 16
TOTAL: Final = "total"
# Contributions of the last 2 minutes stay in buckets by time, where a changing visit or
# agent takes back and adds at the same instants; older ones go to the compact log (a bucket
# costs about 400 bytes, a logged contribution 20: four hours up to now at 500 queues and
# 5,000 agents, `python -m benchmarks.state_size --events 2444068`, held 76.0 MB of window
# sums with 15 minutes of buckets and 52.3 MB with 2).
_RECENT_US: Final = 120_000_000


class WindowSums:
    """Sums per window of contributions placed at event times."""

    __slots__ = (  # a worker holds one per queue and one per agent
        "_buckets",
        "_day",
        "_flushed",
        "_future",
        "_now",
        "_past",
        "_recent",
        "_retain_us",
        "_rolling",
        "_settled",
        "_stale_future",
        "_today",
        "_total",
        "_widths",
        "_windows",
        "_zone",
    )

    def __init__(self, slots: int, rolling_us: dict[str, int], zone: ZoneInfo) -> None:
        self._rolling = dict(rolling_us)
        self._retain_us = max(self._rolling.values(), default=0)
        self._zone = zone
        # Contributions up to ``_flushed``, while a rolling window may still hold them.
        self._past = ContributionLog(slots)
        self._flushed = -(2**63)
        # Contributions after ``_flushed`` (all of them before now is first set), in buckets by
        # time: the recent ones, their times in order (an emptied bucket's may stay until
        # flushed), and those after now, their times in a heap that now pops as it passes them
        # (sorting every time instead cost each snapshot a sort of all times).
        self._buckets: dict[int, dict[int, int]] = {}
        self._recent: list[int] = []
        self._future: list[int] = []
        self._stale_future = 0  # entries of the heap whose bucket was emptied
        self._now: int | None = None
        self._day = (0, 0)  # [start, end) of now's local day
        # The sums, each a list by slot: the rolling windows' (in ``_rolling``'s order, beside
        # their widths), today's and the total (lists in attributes: compiled, no name lookups).
        self._widths = list(self._rolling.values())
        self._windows = [[0] * slots for _ in self._widths]
        self._today, self._total = [0] * slots, [0] * slots
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
        self.add_all([(at_us, slot, value)], 1)

    def replace(self, old: list[Contribution], new: list[Contribution]) -> None:
        """Take the ``old`` contributions back and add the ``new`` ones, leaving alone those in
        both: a changed visit or agent says most of its contributions again, and each taken
        back and added again would be logged twice, for nothing."""
        first, old_end, new_end = _unchanged_ends(old, new)
        if first in (old_end, new_end):  # one side's differences alone: nothing to net
            self.add_all(old[first:old_end], -1)
            self.add_all(new[first:new_end], 1)
            return
        net: dict[Contribution, int] = {}
        for contribution in old[first:old_end]:
            net[contribution] = net.get(contribution, 0) - 1
        for contribution in new[first:new_end]:
            net[contribution] = net.get(contribution, 0) + 1
        self.add_all([(at, slot, value * n) for (at, slot, value), n in net.items() if n], 1)

    def add_all(self, contributions: list[Contribution], sign: int) -> None:
        """Add ``sign * value`` to ``slot`` at ``at_us`` for each ``(at_us, slot, value)``."""
        now = self._now
        if now is None:  # before now is set: every contribution waits in a bucket
            for at_us, slot, value in contributions:
                if value:
                    self._add_to_bucket(at_us, slot, value * sign)
            return
        kept_after, flushed = now - self._retain_us, self._flushed
        for at_us, slot, value in contributions:
            if not value:
                continue
            value *= sign
            if at_us > flushed:
                self._add_to_bucket(at_us, slot, value)
                if at_us > now:
                    continue
            elif at_us > kept_after:
                self._past.add(at_us, slot, value)
            self._count_now(at_us, slot, value, now)

    def _add_to_bucket(self, at_us: int, slot: int, value: int) -> None:
        bucket = self._buckets.get(at_us)
        if bucket is None:
            self._buckets[at_us] = {slot: value}
            self._place_time(at_us)
            return
        total = bucket.get(slot, 0) + value
        if total:
            bucket[slot] = total
        else:
            self._take_back(at_us, bucket, slot)

    def _place_time(self, at_us: int) -> None:
        """Keep the time of a new bucket: in the future heap, or in order among the recent."""
        if self._now is None:
            self._future.append(at_us)  # sorted once, when now is first set (a replay's whole file)
        elif at_us > self._now:
            heappush(self._future, at_us)
        else:
            recent = self._recent
            index = bisect_left(recent, at_us)
            if index == len(recent) or recent[index] != at_us:  # an emptied bucket's time may be there
                recent.insert(index, at_us)

    def _take_back(self, at_us: int, bucket: dict[int, int], slot: int) -> None:
        """A slot summed back to zero: keep no empty slot or bucket (a waiting call's future
        contributions are taken back when it is answered, hours before their time)."""
        del bucket[slot]
        if bucket:
            return
        del self._buckets[at_us]  # its time stays in the heap until passed, or until flushed
        if self._now is None or at_us > self._now:
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
        """Move the bucket times up to ``now`` from the heap to the recent ones (they come in
        order, after the old now); the sum of their contributions."""
        sums = [0] * len(self._total)
        recent, buckets = self._recent, self._buckets
        for at in self._entering(now, first):
            bucket = buckets.get(at)
            if bucket is None or (recent and recent[-1] == at):  # emptied, or pushed again
                self._stale_future = max(0, self._stale_future - 1)
                continue
            recent.append(at)
            for slot, value in bucket.items():
                sums[slot] += value
        return sums

    def _count_now(self, at_us: int, slot: int, value: int, now: int) -> None:
        """Add a contribution at or before now to the sums of the windows that cover it."""
        self._total[slot] += value
        if at_us >= self._day[0]:
            self._today[slot] += value
        for index, width in enumerate(self._widths):
            if at_us > now - width:
                self._windows[index][slot] += value

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
        self._flush(now_us)

    def values(self) -> dict[str, list[int]]:
        """A copy of the sums per window name (rolling names, ``today``, ``total``)."""
        values = {name: list(sums) for name, sums in zip(self._rolling, self._windows, strict=True)}
        values[TODAY], values[TOTAL] = list(self._today), list(self._total)
        return values

    def _recount(self, now: int) -> None:
        self._day = self._day_around(now)
        _add_into(self._total, self._sum_range(None, now), +1)
        _add_into(self._today, self._sum_range(self._day[0] - 1, now), +1)
        if self._settled is not None:
            _add_into(self._total, self._settled.total, +1)
            if self._settled.day_start_us == self._day[0]:
                _add_into(self._today, self._settled.today, +1)
        for sums, width in zip(self._windows, self._widths, strict=True):
            _add_into(sums, self._sum_range(now - width, now), +1)

    def _move(self, old: int, now: int, entered: list[int]) -> None:
        """``entered``: the sums of ``(old, now]``, which entered every window at once."""
        _add_into(self._total, entered, +1)
        for index, width in enumerate(self._widths):
            if now - old >= width:  # nothing of the old window is left: sum the new one (a replay's jumps)
                self._windows[index] = self._sum_range(now - width, now)
            else:
                _add_into(self._windows[index], entered, +1)
                _add_into(self._windows[index], self._sum_range(old - width, now - width), -1)
        if now >= self._day[1]:
            self._day = self._day_around(now)
            self._today = self._sum_range(self._day[0] - 1, now)
        else:
            _add_into(self._today, entered, +1)

    def _sum_range(self, after: int | None, upto: int) -> list[int]:
        """Per slot, the sum of the contributions with ``after < time <= upto`` (``None``: no
        lower bound) up to now: in the log, then in the recent buckets."""
        sums = self._past.sum_range(after, upto, len(self._total))
        recent, buckets = self._recent, self._buckets
        low = 0 if after is None else bisect_right(recent, after)
        for at in recent[low : bisect_right(recent, upto)]:
            for slot, value in buckets.get(at, {}).items():
                sums[slot] += value
        return sums

    def _day_around(self, now: int) -> tuple[int, int]:
        day = local_date(now, self._zone)
        return (day_start_us(day, self._zone), next_day_start_us(day, self._zone))

    def _flush(self, now: int) -> None:
        """Move the recent buckets older than :data:`_RECENT_US` to the log, and forget what no
        rolling window holds any more."""
        kept_after = now - self._retain_us
        cutoff = max(self._flushed, now - min(_RECENT_US, self._retain_us))
        recent, count = self._recent, bisect_right(self._recent, cutoff)
        for at in recent[:count]:
            bucket = self._buckets.pop(at, None)
            if bucket is not None and at > kept_after:
                for slot, value in bucket.items():
                    self._past.add(at, slot, value)
        del recent[:count]
        self._flushed = cutoff
        self._past.drop_through(kept_after)


def _unchanged_ends(old: list[Contribution], new: list[Contribution]) -> tuple[int, int, int]:
    """``first, old_end, new_end``: the lists differ only in ``old[first:old_end]`` and
    ``new[first:new_end]`` (a visit's or segment's contributions come in the same order each
    time it is told, so most of a change's are equal at the same ends)."""
    first, old_end, new_end = 0, len(old), len(new)
    while first < old_end and first < new_end and old[first] == new[first]:
        first += 1
    while old_end > first and new_end > first and old[old_end - 1] == new[new_end - 1]:
        old_end -= 1
        new_end -= 1
    return first, old_end, new_end


def _add_into(sums: list[int], values: list[int], sign: int) -> None:
    for slot, value in enumerate(values):
        if value:
            sums[slot] += sign * value
