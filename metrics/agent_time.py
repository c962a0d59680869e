"""Time in state as window sums: each segment is three contributions at each of its two ends.

Seconds in a state inside a window ``(L, t]`` are the overlap of the state's segments with it.
Let ``G(x)`` be the time spent in the state up to ``x``: closed segments count whole, open
ones ``x - start``. With ``C`` the lengths of segments ended, ``N`` the segments open, and
``S`` the sum of their starts, all counted up to ``x``, ``G(x) = C + N·x − S``. These are sums
of contributions at the segments' ends, so :class:`~metrics.windows.WindowSums` keeps them
exactly as it keeps the call counts, and seconds in ``(L, t] = G(t) − G(L)`` follow from the
window's sums and the all-time open count (:func:`seconds_in_window`). A segment that began
before the window counts from the window's start, and a changed history is handled as a
changed visit is: its old segments' contributions are taken back, the new ones added
(:func:`history_changes`). Times are taken from ``EPOCH_US`` so that sums of starts stay small.

Slots, from a ``base``, per state in :data:`~metrics.contract.events.AGENT_STATES` order:
``CLOSED`` (microseconds), ``OPEN`` (count), ``STARTS`` (microseconds). Usage::

    sums = WindowSums(base + STATE_SLOTS, {"1h": 3_600_000_000}, zone)
    taken_back, added, settled = history_changes(old, new, max_age_us, base)
    sums.add_all(taken_back, -1); sums.add_all(added, +1)
    seconds_in_window(sums.values()["1h"], sums.values()["total"], base, now - 3_600_000_000, now)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from metrics.agents import AgentHistory, Segment
from metrics.contract.events import AGENT_STATES
from metrics.rules import Contribution
from metrics.windows import WindowSums

CLOSED, OPEN, STARTS = 0, 1, 2
STATE_SLOTS = 3 * len(AGENT_STATES)
STATE_INDEX = {state: 3 * index for index, state in enumerate(AGENT_STATES)}
EPOCH_US = 1_577_836_800_000_000  # 2020-01-01T00:00:00Z


class HistoryChanges(NamedTuple):
    """What a new history changes in sums: contributions to take back, to add, and of the
    segments the new history no longer holds (they stay counted; a restart needs them settled)."""

    taken_back: list[Contribution]
    added: list[Contribution]
    settled: list[Contribution]

    def count_in(self, sums: WindowSums) -> None:
        """Move ``sums`` from the old history's segments to the new one's."""
        sums.add_all(self.taken_back, -1)
        sums.add_all(self.added, +1)

    def settled_at(self, sums: WindowSums) -> int:
        """The instant the trimmed segments settle at: now, or before any snapshot their latest end."""
        return sums.now_us if sums.now_us is not None else max(c[0] for c in self.settled)


def segment_contributions(segment: Segment, base: int) -> list[Contribution]:
    """The six contributions of one segment."""
    slot, start, end = base + STATE_INDEX[segment.state], segment.start_us, segment.end_us
    relative = start - EPOCH_US
    return [
        (start, slot + OPEN, 1),
        (start, slot + STARTS, relative),
        (end, slot + OPEN, -1),
        (end, slot + STARTS, -relative),
        (end, slot + CLOSED, end - start),
    ]


def history_changes(
    old: AgentHistory | None, new: AgentHistory, max_age_us: int, base: int, queue: str | None = None
) -> HistoryChanges:
    """The contributions to move from ``old`` to ``new`` (a queue counts only its segments).

    Segments of ``old`` that began before the first change ``new`` keeps were trimmed: they
    cannot change any more (an event before that change is refused), so they stay counted.
    Of the rest, only those from the first segment that differs are taken back and added
    again: a new change usually touches the last segment or two.
    """
    was, now = _segments(old, max_age_us, queue), _segments(new, max_age_us, queue)
    first = new.changes[0][0] if new.changes else None
    trimmed = 0 if first is None else next((i for i, s in enumerate(was) if s.start_us >= first), len(was))
    same = 0
    for before, after in zip(was[trimmed:], now, strict=False):
        if before != after:
            break
        same += 1
    return HistoryChanges(
        _contributions(was[trimmed + same :], base),
        _contributions(now[same:], base),
        _contributions(was[:trimmed], base),
    )


def history_contributions(
    history: AgentHistory, max_age_us: int, base: int, queue: str | None = None
) -> list[Contribution]:
    """Every contribution of a history's segments (a queue's: those serving it)."""
    return _contributions(_segments(history, max_age_us, queue), base)


def _segments(history: AgentHistory | None, max_age_us: int, queue: str | None) -> list[Segment]:
    if history is None:
        return []
    segments = history.segments(max_age_us)
    return segments if queue is None else [s for s in segments if queue in s.queues]


def _contributions(segments: list[Segment], base: int) -> list[Contribution]:
    return [c for s in segments for c in segment_contributions(s, base)]


def seconds_in_window(
    window: Sequence[int], total: Sequence[int], base: int, lower_us: int, now_us: int
) -> dict[str, float]:
    """Seconds in each state inside ``(lower_us, now_us]`` from the window's and all time's sums."""
    upper, lower = now_us - EPOCH_US, lower_us - EPOCH_US
    seconds: dict[str, float] = {}
    for state, index in STATE_INDEX.items():
        slot = base + index
        open_now = total[slot + OPEN]
        open_before = open_now - window[slot + OPEN]
        closed, starts = window[slot + CLOSED], window[slot + STARTS]
        seconds[state] = (closed + open_now * upper - open_before * lower - starts) / 1_000_000
    return seconds
