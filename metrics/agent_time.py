"""Time in state as window sums: each segment is two contributions at each of its two ends.

Seconds in a state inside a window ``(L, t]`` are the overlap of the state's segments with it.
Let ``G(x)`` be the time spent in the state up to ``x``. Each end of a segment is a boundary:
a start adds 1 to ``N`` and its time to ``S``, an end takes 1 from ``N`` and its time from
``S``. Counted up to ``x``, ``G(x) = N·x − S``: an open segment gives ``x − start``, a closed
one ``(x − start) − (x − end)``, its length. These are sums of contributions at the
segments' ends, so :class:`~metrics.windows.WindowSums` keeps them exactly as it keeps the
call counts, and seconds in ``(L, t] = G(t) − G(L)`` follow from the window's sums and the
all-time open count (:func:`seconds_in_window`). A segment that began before the window
counts from the window's start, and a changed timeline is handled as a changed visit is: its
old segments' contributions are taken back, the new ones added (:func:`timeline_changes`).
Times are taken from ``EPOCH_US`` so that sums of times stay small.

Slots, from a ``base``, per state in :data:`~metrics.contract.events.AGENT_STATES` order:
``CLOSED`` (microseconds), ``OPEN`` (count), ``TIMES`` (microseconds: ``S``). ``CLOSED`` holds the
lengths of closed segments as versions before 2026-12 counted them (a third contribution at
each end, a fifth more entries in every queue's window log); only sums they settled before a
restart still hold any, and ``G`` reads the same either way. Usage::

    sums = WindowSums(base + STATE_SLOTS, {"1h": 3_600_000_000}, zone)
    taken_back, added, settled = timeline_changes(old, new, max_age_us, base)
    sums.replace(taken_back, added)
    seconds_in_window(sums.values()["1h"], sums.values()["total"], base, now - 3_600_000_000, now)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Final, NamedTuple

from metrics.agent_timeline import AgentTimeline, Segment
from metrics.contract.events import AGENT_STATES
from metrics.rules import Contribution
from metrics.windows import WindowSums

CLOSED: Final = 0
OPEN: Final = 1
TIMES: Final = 2
STATE_SLOTS: Final = 3 * len(AGENT_STATES)
STATE_INDEX: Final = {state: 3 * index for index, state in enumerate(AGENT_STATES)}
EPOCH_US: Final = 1_577_836_800_000_000  # 2020-01-01T00:00:00Z


class TimelineChanges(NamedTuple):
    """What a new timeline changes in sums: contributions to take back, to add, and of the
    segments the new timeline no longer holds (they stay counted; a restart needs them settled)."""

    taken_back: list[Contribution]
    added: list[Contribution]
    settled: list[Contribution]

    def count_in(self, sums: WindowSums) -> None:
        """Move ``sums`` from the old timeline's segments to the new one's."""
        sums.replace(self.taken_back, self.added)

    def settled_at(self, sums: WindowSums) -> int:
        """The instant the trimmed segments settle at: now, or before any snapshot their latest end."""
        return sums.now_us if sums.now_us is not None else max(c[0] for c in self.settled)


def segment_contributions(segment: Segment, base: int) -> list[Contribution]:
    """The four contributions of one segment: two at its start, two at its end."""
    slot, start, end = base + STATE_INDEX[segment.state], segment.start_us, segment.end_us
    return [
        (start, slot + OPEN, 1),
        (start, slot + TIMES, start - EPOCH_US),
        (end, slot + OPEN, -1),
        (end, slot + TIMES, EPOCH_US - end),
    ]


def timeline_changes(
    old: AgentTimeline | None, new: AgentTimeline, max_age_us: int, base: int, queue: str | None = None
) -> TimelineChanges:
    """The contributions to move from ``old`` to ``new`` (a queue counts only its segments).

    Segments of ``old`` that began before the first change ``new`` keeps were trimmed: they
    cannot change any more (an event before that change is refused), so they stay counted; one
    that goes on past that change is cut there first (time in state is the same either way).
    Of the rest, only those from the first segment that differs are taken back and added
    again: a new change usually touches the last segment or two.
    """
    if old is None:
        return TimelineChanges([], timeline_contributions(new, max_age_us, base, queue), [])
    first = new.starts[0] if new.starts else None
    trimmed = 0 if first is None else bisect_left(old.starts, first)
    if first is not None and _inside_segment(old, trimmed, first, max_age_us):
        old = old.split(trimmed, first)
    same = _same_segments(old, trimmed, new)
    return TimelineChanges(
        _contributions(old.segments(max_age_us, queue, trimmed + same), base),
        _contributions(new.segments(max_age_us, queue, same), base),
        _contributions(old.segments(max_age_us, queue, 0, trimmed), base),
    )


def _inside_segment(old: AgentTimeline, index: int, first: int, max_age_us: int) -> bool:
    """Whether ``first`` falls inside old's segment before ``index`` (not at a change): the
    first change a new timeline keeps can be a heartbeat that the old one left out. Settled
    whole, that segment and the new one's first would count the time after ``first`` twice."""
    if index == 0 or (index < len(old.starts) and old.starts[index] == first):
        return False
    return first < old.starts[index - 1] + max_age_us  # else it had ended: the agent was gone


def _same_segments(old: AgentTimeline, offset: int, new: AgentTimeline) -> int:
    """How many of ``new``'s first segments are ``old``'s from ``offset`` on: the same changes,
    each ending where the next one begins (the last of equal changes may end differently)."""
    kept, told = len(old.starts) - offset, len(new.starts)
    same = 0
    while same < min(kept, told) and old.starts[offset + same] == new.starts[same]:
        if old.phases[offset + same] != new.phases[same]:
            break
        same += 1
    return same if same == kept == told else max(same - 1, 0)


def timeline_contributions(
    timeline: AgentTimeline, max_age_us: int, base: int, queue: str | None = None
) -> list[Contribution]:
    """Every contribution of a timeline's segments (a queue's: those serving it)."""
    return _contributions(timeline.segments(max_age_us, queue), base)


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
        closed, times = window[slot + CLOSED], window[slot + TIMES]
        seconds[state] = (closed + open_now * upper - open_before * lower - times) / 1_000_000
    return seconds
