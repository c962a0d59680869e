"""The cold stores' key filter: never a false negative, few false positives, full at capacity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from metrics.storage.key_filter import MIN_CAPACITY, KeyFilter


@given(st.lists(st.text(max_size=40), max_size=200), st.integers(0, 300))
def test_every_key_added_may_be_held(keys: list[str], capacity: int) -> None:
    filter_ = KeyFilter(capacity)
    for key in keys:
        filter_.add(key)
    assert all(filter_.may_hold(key) for key in keys)


def test_at_capacity_about_one_key_in_a_hundred_never_added_may_be_held() -> None:
    filter_ = KeyFilter.for_keys((f"call-{n}" for n in range(50_000)), live=25_000)
    assert filter_.full
    others = [f"visit-{n}" for n in range(50_000)]
    false_positives = sum(filter_.may_hold(key) for key in others) / len(others)
    assert false_positives < 0.02  # 12 bits a key, 3 probes: 1 % in theory


def test_a_filter_is_full_once_as_many_keys_were_added_as_it_was_made_for() -> None:
    filter_ = KeyFilter(capacity=10)  # made for at least MIN_CAPACITY
    for n in range(MIN_CAPACITY - 1):
        filter_.add(str(n))
    assert not filter_.full
    filter_.add("one more")
    assert filter_.full
