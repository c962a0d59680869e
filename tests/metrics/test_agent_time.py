"""Time in state from window sums equals the overlap of the segments with the window, also
where some segments were counted as versions before 2026-12 counted them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from metrics.agent_time import (
    CLOSED,
    EPOCH_US,
    OPEN,
    STATE_INDEX,
    STATE_SLOTS,
    TIMES,
    seconds_in_window,
    segment_contributions,
)
from metrics.agent_timeline import Segment
from metrics.rules import Contribution
from metrics.timeutil import US

T0 = EPOCH_US + 10**15  # in 2051: any instant well after the epoch


def _before_2026_12(segment: Segment) -> list[Contribution]:
    """A segment's contributions as earlier versions counted them (sums they settled persist)."""
    slot, start, end = STATE_INDEX[segment.state], segment.start_us, segment.end_us
    relative = start - EPOCH_US
    return [
        (start, slot + OPEN, 1),
        (start, slot + TIMES, relative),
        (end, slot + OPEN, -1),
        (end, slot + TIMES, -relative),
        (end, slot + CLOSED, end - start),
    ]


def _sums(contributions: list[Contribution], after: int | None, upto: int) -> list[int]:
    sums = [0] * STATE_SLOTS
    for at, slot, value in contributions:
        if (after is None or at > after) and at <= upto:
            sums[slot] += value
    return sums


def _overlap(segments: list[Segment], state: str, lower: int, upper: int) -> float:
    inside = (min(s.end_us, upper) - max(s.start_us, lower) for s in segments if s.state == state)
    return sum(max(0, length) for length in inside) / US


segments_ = st.lists(
    st.tuples(
        st.integers(0, 7200), st.integers(1, 3600), st.sampled_from(sorted(STATE_INDEX)), st.booleans()
    ),
    max_size=8,
)


@given(segments_, st.integers(0, 10_800), st.integers(1, 7200))
def test_seconds_in_a_window_are_the_overlap_whichever_way_each_segment_was_counted(
    drawn: list[tuple[int, int, str, bool]], now_s: int, width_s: int
) -> None:
    segments = [Segment(T0 + a * US, T0 + (a + n) * US, state, None, ()) for a, n, state, _ in drawn]
    contributions = [
        c
        for segment, (*_, old) in zip(segments, drawn, strict=True)
        for c in (_before_2026_12(segment) if old else segment_contributions(segment, 0))
    ]
    now, lower = T0 + now_s * US, T0 + (now_s - width_s) * US
    window, total = _sums(contributions, lower, now), _sums(contributions, None, now)
    found = seconds_in_window(window, total, 0, lower, now)
    assert found == {state: _overlap(segments, state, lower, now) for state in STATE_INDEX}


def test_a_segment_is_four_contributions_and_none_is_a_closed_length() -> None:
    segment = Segment(T0, T0 + 60 * US, "on_call", None, ("sales",))
    found = segment_contributions(segment, 0)
    assert len(found) == 4 and all(slot % 3 != CLOSED for _, slot, _ in found)
