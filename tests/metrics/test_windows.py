"""Window sums: exact over any order of adding and taking back, and nothing left behind."""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from metrics.windows import TODAY, TOTAL, WindowSums

US = 1_000_000
WIDTHS = {"1m": 60 * US, "5m": 300 * US}
START = 1_767_571_200 * US  # 2026-01-05T00:00:00Z


def _sums() -> WindowSums:
    return WindowSums(slots=2, rolling_us=WIDTHS, zone=ZoneInfo("UTC"))


_contributions = st.lists(
    st.tuples(st.integers(0, 900).map(lambda s: START + s * US), st.integers(0, 1), st.integers(-3, 3)),
    max_size=40,
)


@given(_contributions, _contributions, st.lists(st.integers(0, 900), min_size=1, max_size=5))
def test_sums_equal_a_recount_after_adding_and_taking_back(
    kept: list[tuple[int, int, int]], undone: list[tuple[int, int, int]], nows: list[int]
) -> None:
    sums = _sums()
    sums.add_all(undone, +1)
    for now in sorted(nows):
        sums.add_all(kept, +1)
        sums.advance(START + now * US)
        sums.add_all(kept, -1)
    sums.add_all(undone, -1)
    sums.add_all(kept, +1)
    now = START + max(nows) * US
    for name, width in {**WIDTHS, TODAY: now - START + 1, TOTAL: now}.items():
        want = [sum(v for t, s, v in kept if now - width < t <= now and s == slot) for slot in (0, 1)]
        assert sums.values()[name] == want, name


def test_a_contribution_taken_back_leaves_no_bucket() -> None:
    sums = _sums()
    sums.advance(START)
    expiry = (START + 4 * 3600 * US, 0, 1)  # a waiting call's future contribution, hours ahead
    sums.add_all([expiry, (START + 4 * 3600 * US, 1, 5)], +1)
    sums.add_all([expiry, (START + 4 * 3600 * US, 1, 5)], -1)
    assert sums._buckets == {}
    sums.add_all([expiry], +1)  # and the same time again is counted once when now reaches it
    sums.advance(START + 4 * 3600 * US)
    assert sums.values()["1m"] == [1, 0]


_DAY_END = START + 86_400 * US
# each step adds contributions, may take back the previous step's (as a changed visit does,
# contribution by contribution or in one replace), then may move now forward; few distinct
# times, so that buckets are emptied and made again
_coarse = st.lists(
    st.tuples(st.integers(0, 30).map(lambda s: START + 30 * s * US), st.integers(0, 1), st.integers(-2, 2)),
    max_size=20,
)
_step = st.tuples(_coarse, st.sampled_from(["keep", "take back", "replace"]), st.none() | st.integers(0, 900))


@given(st.sampled_from([START, _DAY_END - 450 * US]), st.lists(_step, max_size=30))
def test_sums_equal_a_recount_at_every_instant(
    origin: int, steps: list[tuple[list[tuple[int, int, int]], str, int | None]]
) -> None:
    """Adds and take-backs in the past, now and the future, between moves of now (across a
    midnight for one origin, and past the longest window so that old buckets are dropped)."""
    sums, held, previous, now = _sums(), Counter[tuple[int, int]](), [], 0
    for contributions, previous_goes, instant in steps:
        new = [(t - START + origin, s, v) for t, s, v in contributions]
        if previous_goes == "replace":
            sums.replace(previous, new)
        else:
            sums.add_all(previous if previous_goes == "take back" else [], -1)
            sums.add_all(new, +1)
        for t, s, v in previous if previous_goes != "keep" else []:
            held[(t, s)] -= v
        for t, s, v in new:
            held[(t, s)] += v
        previous = new
        if instant is not None:
            now = max(now, origin + instant * US)
            sums.advance(now)
            assert sums.values() == _recount(held, now)


def test_contributions_said_again_in_a_replace_are_not_logged_again() -> None:
    sums = _sums()
    sums.advance(START + 600 * US)
    old = [(START + 400 * US, 0, 1), (START + 400 * US, 1, 7)]  # past the recent buckets: logged
    sums.add_all(old, +1)
    logged = len(sums._past)
    sums.replace(old, [*old, (START + 410 * US, 0, 1)])
    assert (logged, len(sums._past)) == (2, 3)
    assert sums.values()["5m"] == [2, 7]


def _recount(held: Counter[tuple[int, int]], now: int) -> dict[str, list[int]]:
    day = START if now < _DAY_END else _DAY_END
    after = {**{name: now - width for name, width in WIDTHS.items()}, TODAY: day - 1, TOTAL: 0}
    return {
        name: [sum(v for (t, s), v in held.items() if since < t <= now and s == slot) for slot in (0, 1)]
        for name, since in after.items()
    }


def test_taken_back_future_times_do_not_pile_up() -> None:
    """A day of calls answered before their expiry time leaves no heap of their times."""
    sums = _sums()
    sums.advance(START)
    for call in range(20_000):
        expiry = (START + 4 * 3600 * US + call, 0, 1)
        sums.add_all([expiry], +1)
        sums.add_all([expiry], -1)
    assert len(sums._future) < 100
