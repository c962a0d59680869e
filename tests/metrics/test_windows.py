"""Window sums: exact over any order of adding and taking back, and nothing left behind."""

from __future__ import annotations

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
