"""The waiting calls of a queue answer as a walk over every interval would, whatever the order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.waiting import WaitingCalls

CALLS = [f"c{n}" for n in range(6)]
times = st.integers(0, 100)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("hold"), st.sampled_from(CALLS), times, st.integers(1, 60)),
        st.tuples(st.just("discard"), st.sampled_from(CALLS)),
        st.tuples(st.just("drop_ended"), times),
        st.tuples(st.just("at"), times),
    ),
    max_size=60,
)


def naive(intervals: dict[str, tuple[int, int]], now: int) -> tuple[int, int]:
    waits = [now - start for start, end in intervals.values() if start <= now < end]
    return len(waits), max(waits, default=0)


@settings(max_examples=400, deadline=None)
@given(operations)
def test_counts_and_the_longest_wait_equal_a_walk_over_every_call(ops: list[tuple]) -> None:  # type: ignore[type-arg]
    waiting, model = WaitingCalls(), dict[str, tuple[int, int]]()
    for op in ops:
        if op[0] == "hold":
            _, call, start, length = op
            waiting.hold(call, (start, start + length))
            model[call] = (start, start + length)
        elif op[0] == "discard":
            waiting.discard(op[1])
            model.pop(op[1], None)
        elif op[0] == "drop_ended":
            waiting.drop_ended(op[1])
            model = {c: w for c, w in model.items() if w[1] > op[1]}
        else:
            assert waiting.at(op[1]) == naive(model, op[1])
        assert len(waiting) == len(model)


def test_a_hundred_thousand_waiting_calls_cost_a_snapshot_nothing_much() -> None:
    waiting = WaitingCalls()
    for n in range(100_000):
        waiting.hold(f"c{n}", (n, n + 10**9))
    for n in range(0, 100_000, 2):
        waiting.discard(f"c{n}")
    assert waiting.at(200_000) == (50_000, 200_000 - 1)
    assert len(waiting._starts) <= 2 * 50_000 + 64  # stale heap entries are let go
