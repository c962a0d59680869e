"""The log of recent contributions: sums over any range, whatever order they came in."""

from __future__ import annotations

import random
import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from metrics.window_log import ContributionLog


def test_contributions_out_of_order_sum_by_time_range() -> None:
    log = ContributionLog()
    for at, slot, value in [(10, 0, 1), (30, 1, 5), (20, 0, 2), (10, 1, 7), (30, 0, -1)]:
        log.add(at, slot, value)
    assert log.sum_range(None, 30, 2) == [2, 12]
    assert log.sum_range(10, 30, 2) == [1, 5]  # 10 itself is not after 10
    assert log.sum_range(10, 20, 2) == [2, 0]
    assert log.sum_range(30, 40, 2) == [0, 0]


def test_a_contribution_taken_back_cancels_it_in_every_range() -> None:
    log = ContributionLog()
    log.add(10, 0, 4)
    log.add(50, 0, 1)
    log.add(10, 0, -4)  # taken back: logged again, the other way
    assert log.sum_range(None, 50, 1) == [1] and log.sum_range(None, 10, 1) == [0]


def test_dropping_through_a_time_forgets_it_and_everything_before() -> None:
    log = ContributionLog()
    for at in (5, 10, 10, 15):
        log.add(at, 0, 1)
    log.drop_through(10)
    assert len(log) == 1 and log.times() == {15} and log.sum_range(None, 99, 1) == [1]


def test_any_order_gives_the_sums_of_a_recount() -> None:
    rng = random.Random(3)
    contributions = [(rng.randrange(50), rng.randrange(3), rng.randrange(-5, 6)) for _ in range(300)]
    log = ContributionLog()
    for contribution in contributions:
        log.add(*contribution)
    for after, upto in [(None, 49), (10, 20), (0, 0), (25, 49), (None, 3)]:
        want = [
            sum(v for t, s, v in contributions if (after is None or t > after) and t <= upto and s == slot)
            for slot in range(3)
        ]
        assert log.sum_range(after, upto, 3) == want


def test_compacting_keeps_every_sum_and_bounds_the_log_by_twice_its_net_size() -> None:
    rng = random.Random(5)
    log, added = ContributionLog(), []
    for _ in range(5_000):  # contributions made and taken back, as changing visits do
        at, slot, value = rng.randrange(100), rng.randrange(4), rng.randrange(1, 9)
        for sign in (1, -1, 1):
            log.add(at, slot, sign * value)
        added.append((at, slot, value))
    net = {(at, slot) for at, slot, _ in added}
    assert len(log) <= 2 * len(net) + 64
    for after, upto in [(None, 99), (20, 60), (98, 99)]:
        want = [
            sum(v for t, s, v in added if (after is None or t > after) and t <= upto and s == slot)
            for slot in range(4)
        ]
        assert log.sum_range(after, upto, 4) == want
    log.compact()
    assert len(log) == len(net)


def test_sums_beyond_a_machine_number_stay_exact_and_never_raise() -> None:
    log, huge = ContributionLog(), 2**62 + 12345
    for _ in range(40):  # forty agents' segment starts at one hostile instant, in year 9999
        log.add(253_402_300_799_000_000, 0, huge)
    log.add(253_402_300_799_000_000, 1, -(2**70))
    log.compact()
    assert log.sum_range(None, 253_402_300_799_000_000, 2) == [40 * huge, -(2**70)]


_step = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 60), st.integers(0, 2), st.integers(-5, 5)),
    st.tuples(st.just("drop"), st.integers(0, 60), st.just(0), st.just(0)),
    st.tuples(st.just("compact"), st.just(0), st.just(0), st.just(0)),
)


@given(st.lists(_step, max_size=80))
def test_adds_drops_and_compactions_in_any_order_give_the_sums_of_a_recount(
    steps: list[tuple[str, int, int, int]],
) -> None:
    log, kept = ContributionLog(), list[tuple[int, int, int]]()
    for what, at, slot, value in steps:
        if what == "add":
            log.add(at, slot, value)
            kept.append((at, slot, value))
        elif what == "drop":
            log.drop_through(at)
            kept = [c for c in kept if c[0] > at]
        else:
            log.compact()
    for after, upto in [(None, 60), (10, 40), (30, 30), (None, 5)]:
        want = [
            sum(v for t, s, v in kept if (after is None or t > after) and t <= upto and s == slot)
            for slot in range(3)
        ]
        assert log.sum_range(after, upto, 3) == want
    assert log.times() <= {t for t, _, _ in kept}


def test_contributions_of_one_instant_share_a_row() -> None:
    """An agent's change is four contributions at one instant in each queue it serves."""
    log, changes = ContributionLog(), 20_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for change in range(changes):
            for slot, value in ((0, -1), (1, -change - 1), (3, 1), (4, change + 1)):
                log.add(1_000_000 * change, slot, value)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert (
        len(log) == 4 * changes and held / len(log) < 18
    )  # three machine numbers each: 24 bytes, measured so


def test_late_contributions_cost_what_flat_ones_did_and_fold_into_rows() -> None:
    """A fifth of a queue's contributions come late (a changed visit's, at its older times)."""
    log, late = ContributionLog(), 4_000
    for at in range(20_000):
        log.add(10 * at, at % 3, 1)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for at in range(late):
            log.add(10 * at + 5, 3, 2)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held / late < 26  # as tuples in a list they took over 100 bytes each
    for at in range(late, 2 * late):  # past a quarter of the rows': all in rows again
        log.add(10 * at + 5, 3, 2)
    assert len(log._late_at) < late  # folded into rows once they passed a quarter of them
    assert log.times() == {10 * at for at in range(20_000)} | {10 * at + 5 for at in range(2 * late)}
    assert log.sum_range(None, 10**9, 4) == [6667, 6667, 6666, 4 * late]


@given(st.integers(0, 2**32), st.sampled_from([0.1, 0.3, 0.6]), st.integers(1, 400))
def test_late_contributions_folded_in_give_the_sums_of_a_recount(
    seed: int, late_share: float, span: int
) -> None:
    """Late ones fold into the rows from the earliest late one's on (a fold, not a whole
    compaction: the rows before are left as they were): sums as a recount's, at any range."""
    rng = random.Random(seed)
    log, kept, newest = ContributionLog(), list[tuple[int, int, int]](), 1_000
    for step in range(3_000):
        newest += rng.randrange(3)
        at = newest - rng.randrange(1, span + 1) if rng.random() < late_share else newest
        contribution = (at, rng.randrange(3), rng.randrange(-3, 4))
        log.add(*contribution)
        kept.append(contribution)
        if step % 100 == 99:  # as windows move: the log's oldest go as new ones come
            cutoff = newest - 4 * span
            log.drop_through(cutoff)
            kept = [c for c in kept if c[0] > cutoff]
    for upto in range(newest, newest - 5 * span, -max(1, span // 4)):
        for after in (None, upto - span, upto - 1):
            want = [
                sum(v for t, s, v in kept if (after is None or t > after) and t <= upto and s == slot)
                for slot in range(3)
            ]
            assert log.sum_range(after, upto, 3) == want


def test_rows_kept_after_a_drop_are_netted_when_the_log_doubles() -> None:
    """A compaction nets only what came since the last one; a drop moves that boundary."""
    log = ContributionLog()
    for at in range(20_000):
        log.add(at, 0, 1)
        log.add(at, 0, -1)  # taken back at once: nothing of it is left to keep
        log.add(at, 1, 1)
        if at % 100 == 99:
            log.drop_through(at - 1_000)
    assert len(log) <= 2 * 1_000 + 64  # twice the net at most: one contribution at each instant kept
    assert log.sum_range(None, 20_000, 2) == [0, 1_000]
