"""The contributions of the last window's width, as a log sorted by time, in arrays.

:class:`~metrics.windows.WindowSums` must know each contribution's time until it has left
every rolling window: when now moves, what leaves a window is taken from its sum. A worker
holds such a past for every queue, and agents' time in state puts one at each change of
each agent serving the queue: hundreds of thousands an hour. Kept as a dict of slots per
time they took about 90 bytes each (169 MB at 500 queues and 5,000 agents); as three machine
numbers each, 20 bytes. Here the contributions of one instant (an agent's change is four, a
call's several) share a row of 16 bytes, and each is 9 (its slot in a byte where a queue has
no more than 256). A contribution taken back is logged again with the opposite sign rather
than looked up: sums over a range come out the same. One older than the newest row (a
changed visit's, say) waits among the late ones, three flat arrays sorted by time. Once the
log has doubled since it was last compacted, the contributions of each (time, slot) logged
since are added up into one, in rows, and those that cancel out are dropped (the rows
before hold each (time, slot) once already): at most twice the net size, and each
contribution added costs a bounded share of the compactions. Once the late ones are a
quarter of the rows' (a fifth of a queue's contributions come late), they are compacted
with the rows from the oldest of them on, minutes of an hour's rows. What is dropped
through leaves the arrays once it is a quarter of them. ``python -m
benchmarks.contribution_log`` times an hour's log over hours of event time. Usage::

    log = ContributionLog()
    log.add(at_us=5, slot=0, value=1)
    log.sum_range(after=None, upto=10, slots=2)   # [1, 0]
    log.drop_through(5)                           # every contribution at or before 5 goes
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from operator import itemgetter
from typing import Final

_SLACK: Final = 64  # entries a log may grow by beyond twice its compacted size before it is compacted
# The most one entry holds: a sum of many contributions at one instant (thousands of agents'
# segment starts, say, at a hostile time in year 9999) can pass a machine number's range; it
# is then logged in parts, and sums over a range, made in Python's integers, stay exact.
_LARGEST: Final = 2**62
_TIME: Final = itemgetter(0)
Contribution = tuple[int, int, int]


class ContributionLog:
    """Contributions ``(time, slot, value)`` in time order; equal times in any order.

    Rows: each time once in ``_times``; its contributions are the entries (``_slot``,
    ``_value``) up to ``_ends`` of its row, counted from the first entry ever logged, of
    which ``_dropped`` are gone. Contributions older than the newest row are late: in
    ``_late_at``, ``_late_slot`` and ``_late_value``, sorted by time.
    """

    __slots__ = (
        "_compact_at",
        "_cutoff",
        "_dropped",
        "_ends",
        "_late_at",
        "_late_slot",
        "_late_value",
        "_netted",
        "_slot",
        "_slot_type",
        "_times",
        "_value",
    )

    def __init__(self, slots: int = 256) -> None:
        self._slot_type = _smallest_type(slots)
        self._times, self._ends, self._dropped = array("q"), array("q"), 0
        self._slot, self._value = array(self._slot_type), array("q")
        self._late_at, self._late_slot, self._late_value = array("q"), array(self._slot_type), array("q")
        self._compact_at = _SLACK  # the length at which to compact next
        self._netted = 0  # the rows before this one hold one contribution per (time, slot) at most
        self._cutoff: int | None = None  # dropped through, but still in the arrays

    def __len__(self) -> int:
        if self._cutoff is None:
            return self._held()
        rows, late = self._dropped_through(self._cutoff)
        return self._held() - self._first_entry(rows) - late

    def _held(self) -> int:
        """Contributions in the arrays, those dropped through and not yet deleted included."""
        return len(self._slot) + len(self._late_at)

    def add(self, at_us: int, slot: int, value: int) -> None:
        """Log one contribution (usually at the newest time or after: in a row)."""
        if not -_LARGEST <= value <= _LARGEST:
            for part in _parts(value):
                self.add(at_us, slot, part)
            return
        if self._cutoff is not None and at_us <= self._cutoff:
            self._delete_dropped()  # logged after it was dropped through: it counts
        times = self._times
        if times and at_us < times[-1]:
            self._add_late(at_us, slot, value)
        else:
            if times and at_us == times[-1]:
                self._ends[-1] += 1
            else:
                times.append(at_us)
                self._ends.append(self._dropped + len(self._slot) + 1)
            self._slot.append(slot)
            self._value.append(value)
        if self._held() >= self._compact_at:  # grown twice as long: net what was logged since
            self._compact(everything=False)
        elif len(self._late_at) > len(self._slot) // 4 + _SLACK:
            self._compact_from(self._late_row())

    def _add_late(self, at_us: int, slot: int, value: int) -> None:
        index = bisect_right(self._late_at, at_us)
        self._late_at.insert(index, at_us)
        self._late_slot.insert(index, slot)
        self._late_value.insert(index, value)

    def _rows(self, row: int) -> Iterator[Contribution]:
        """The contributions in rows from row ``row`` on, in time order."""
        slots, values, first = self._slot, self._value, self._first_entry(row)
        for at, end in zip(self._times[row:], self._ends[row:], strict=True):
            last = end - self._dropped
            for index in range(first, last):
                yield at, slots[index], values[index]
            first = last

    def _late_row(self) -> int:
        """The first row no older than the oldest late contribution (past the rows: none late)."""
        return bisect_left(self._times, self._late_at[0]) if self._late_at else len(self._times)

    def _first_entry(self, row: int) -> int:
        """The index in ``_slot`` and ``_value`` of the first contribution of row ``row``."""
        return self._ends[row - 1] - self._dropped if row else 0

    def compact(self) -> None:
        """One contribution per (time, slot), their sum; none where they cancel out; all in rows."""
        self._compact(everything=True)

    def _compact(self, everything: bool) -> None:
        """Net every row, or those logged since the last compaction (and the late ones); the next
        compaction once the log has doubled again."""
        self._delete_dropped()
        self._compact_from(0 if everything else min(self._netted, self._late_row()))
        self._compact_at = 2 * self._held() + _SLACK

    def _compact_from(self, row: int) -> None:
        """Compact the rows from row ``row`` on, and the late contributions, none older than it.

        The rows before it are left as they are (compacting all of them each time, a worker's
        compactions each went over a queue's whole hour): rows compacted before, when the log
        has grown twice as long; the hour before the late ones, mostly minutes old, when they
        are folded in.
        """
        net: dict[tuple[int, int], int] = {}
        late = zip(self._late_at, self._late_slot, self._late_value, strict=True)
        for at, slot, value in [*self._rows(row), *late]:
            net[at, slot] = net.get((at, slot), 0) + value
        kept = [(at, slot, part) for (at, slot), value in net.items() for part in _parts(value)]
        if self._late_at:
            kept.sort(key=_TIME)
        self._cut_from(row)
        self._append_rows(kept)
        if row <= self._netted:  # all rows netted now; the newest may gain more at its time
            self._netted = max(0, len(self._times) - 1)

    def _cut_from(self, row: int) -> None:
        """Forget the rows from row ``row`` on, and the late contributions."""
        first = self._first_entry(row)
        del self._times[row:], self._ends[row:], self._slot[first:], self._value[first:]
        del self._late_at[:], self._late_slot[:], self._late_value[:]

    def _append_rows(self, contributions: list[Contribution]) -> None:
        """Log ``contributions`` (in time order, none older than the newest row) in rows."""
        times, ends, logged = self._times, self._ends, self._dropped + len(self._slot)
        self._slot.extend(array(self._slot_type, [slot for _, slot, _ in contributions]))
        self._value.extend(array("q", [value for _, _, value in contributions]))
        for count, (at, _, _) in enumerate(contributions, start=logged + 1):
            if times and times[-1] == at:
                ends[-1] = count
            else:
                times.append(at)
                ends.append(count)

    def sum_range(self, after: int | None, upto: int, slots: int) -> list[int]:
        """Per slot, the sum of the contributions with ``after < time <= upto`` (``None``: no
        lower bound)."""
        sums = [0] * slots
        if self._cutoff is not None and (after is None or after < self._cutoff):
            after = self._cutoff  # what is at or before it was dropped
        low, high = _span(self._times, after, upto)
        if high > low:
            first = (self._ends[low - 1] if low else self._dropped) - self._dropped
            _add_into(sums, self._slot, self._value, first, self._ends[high - 1] - self._dropped)
        _add_into(sums, self._late_slot, self._late_value, *_span(self._late_at, after, upto))
        return sums

    def drop_through(self, cutoff: int) -> None:
        """Forget every contribution at or before ``cutoff``.

        They leave the arrays once they are a quarter of them: a worker drops the oldest at
        every advance, and deleting them at once moved an hour's arrays every time."""
        self._cutoff = cutoff if self._cutoff is None else max(self._cutoff, cutoff)
        rows, late = self._dropped_through(self._cutoff)
        if rows > len(self._times) // 4 or late > len(self._late_at) // 4:
            self._delete_dropped()

    def _dropped_through(self, cutoff: int) -> tuple[int, int]:
        """How many rows, and how many late contributions, are at or before ``cutoff``."""
        return bisect_right(self._times, cutoff), bisect_right(self._late_at, cutoff)

    def _delete_dropped(self) -> None:
        """Delete from the arrays what was dropped through."""
        cutoff, self._cutoff = self._cutoff, None
        if cutoff is None:
            return
        rows, late = self._dropped_through(cutoff)
        if rows:
            gone = self._ends[rows - 1]
            del self._slot[: gone - self._dropped], self._value[: gone - self._dropped]
            del self._times[:rows], self._ends[:rows]
            self._dropped = gone
            self._netted = max(0, self._netted - rows)
        if late:
            del self._late_at[:late], self._late_slot[:late], self._late_value[:late]

    def times(self) -> set[int]:
        """The times logged (for tests and tools)."""
        cutoff = -(2**63) if self._cutoff is None else self._cutoff
        return {at for at in [*self._times, *self._late_at] if at > cutoff}


def _span(times: array[int], after: int | None, upto: int) -> tuple[int, int]:
    """The indexes ``[low, high)`` of the sorted ``times`` with ``after < time <= upto``."""
    if not times or (after is not None and after >= times[-1]):
        return 0, 0  # the usual range of a window's edge: past the log
    return (0 if after is None else bisect_right(times, after)), bisect_right(times, upto)


def _add_into(sums: list[int], slots: array[int], values: array[int], first: int, last: int) -> None:
    for slot, value in zip(slots[first:last], values[first:last], strict=True):
        sums[slot] += value


def _smallest_type(slots: int) -> str:
    """The array type code of the smallest unsigned number that holds every slot below ``slots``."""
    return next(code for code in "BHIQ" if slots <= 1 << 8 * array(code).itemsize)


def _parts(value: int) -> list[int]:
    """``value`` as entries within the range one holds (none for 0)."""
    sign, left, parts = (1 if value > 0 else -1), abs(value), []
    while left > _LARGEST:
        parts.append(sign * _LARGEST)
        left -= _LARGEST
    return [*parts, sign * left] if left else parts
