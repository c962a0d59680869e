"""The contributions of the last window's width, as a log sorted by time, in flat arrays.

:class:`~metrics.windows.WindowSums` must know each contribution's time until it has left
every rolling window: when now moves, what leaves a window is taken from its sum. A worker
holds such a past for every queue, and agents' time in state puts one at each change of
each agent serving the queue: hundreds of thousands an hour. Kept as a dict of slots per
time they took about 90 bytes each (169 MB at 500 queues and 5,000 agents); here they are
three machine numbers, about 20 bytes. A contribution taken back is logged again with the
opposite sign rather than looked up: sums over a range come out the same. A visit changes
several times and each time takes back all it contributed, so once the log has doubled since
it was last compacted, the contributions of each (time, slot) are added up into one and those
that cancel out are dropped (:meth:`ContributionLog.compact`): at most twice the net size, and
each contribution added costs a bounded share of the compactions. Usage::

    log = ContributionLog()
    log.add(at_us=5, slot=0, value=1)
    log.sum_range(after=None, upto=10, slots=2)   # [1, 0]
    log.drop_through(5)                           # every contribution at or before 5 goes
"""

from __future__ import annotations

from array import array
from bisect import bisect_right

_SLACK = 64  # entries a log may grow by beyond twice its compacted size before it is compacted
# The most one entry holds: a sum of many contributions at one instant (thousands of agents'
# segment starts, say, at a hostile time in year 9999) can pass a machine number's range; it
# is then logged in parts, and sums over a range, made in Python's integers, stay exact.
_LARGEST = 2**62


class ContributionLog:
    """Contributions ``(time, slot, value)`` in time order; equal times in any order."""

    __slots__ = ("_at", "_compact_at", "_slot", "_value")

    def __init__(self) -> None:
        self._at = array("q")
        self._slot = array("i")
        self._value = array("q")
        self._compact_at = _SLACK  # the length at which to compact next

    def __len__(self) -> int:
        return len(self._at)

    def add(self, at_us: int, slot: int, value: int) -> None:
        """Log one contribution (usually the newest: appended; otherwise put in its place)."""
        if not -_LARGEST <= value <= _LARGEST:
            for part in _parts(value):
                self.add(at_us, slot, part)
            return
        times = self._at
        if not times or at_us >= times[-1]:
            times.append(at_us)
            self._slot.append(slot)
            self._value.append(value)
        else:
            index = bisect_right(times, at_us)
            times.insert(index, at_us)
            self._slot.insert(index, slot)
            self._value.insert(index, value)
        if len(times) >= self._compact_at:
            self.compact()

    def compact(self) -> None:
        """One contribution per (time, slot), their sum; none where they cancel out."""
        net: dict[tuple[int, int], int] = {}
        for at, slot, value in zip(self._at, self._slot, self._value, strict=True):
            net[at, slot] = net.get((at, slot), 0) + value
        kept = [
            (at, slot, part) for (at, slot), value in net.items() for part in _parts(value)
        ]  # in time order
        self._at = array("q", [at for at, _, _ in kept])
        self._slot = array("i", [slot for _, slot, _ in kept])
        self._value = array("q", [value for _, _, value in kept])
        self._compact_at = 2 * len(kept) + _SLACK

    def sum_range(self, after: int | None, upto: int, slots: int) -> list[int]:
        """Per slot, the sum of the contributions with ``after < time <= upto`` (``None``: no
        lower bound)."""
        sums = [0] * slots
        times = self._at
        if not times or (after is not None and after >= times[-1]):
            return sums  # the usual range of a window's edge: within the recent buckets, after the log
        low = 0 if after is None else bisect_right(times, after)
        high = bisect_right(times, upto)
        for slot, value in zip(self._slot[low:high], self._value[low:high], strict=True):
            sums[slot] += value
        return sums

    def drop_through(self, cutoff: int) -> None:
        """Forget every contribution at or before ``cutoff``."""
        count = bisect_right(self._at, cutoff)
        if count:
            del self._at[:count], self._slot[:count], self._value[:count]

    def times(self) -> set[int]:
        """The times logged (for tests and tools)."""
        return set(self._at)


def _parts(value: int) -> list[int]:
    """``value`` as entries within the range one holds (none for 0)."""
    sign, left, parts = (1 if value > 0 else -1), abs(value), []
    while left > _LARGEST:
        parts.append(sign * _LARGEST)
        left -= _LARGEST
    return [*parts, sign * left] if left else parts
