"""The table of shared values: one copy of each, and a bound on how many it holds."""

from __future__ import annotations

import sys

from metrics.sharing import Shared


def test_equal_values_come_back_as_one_object() -> None:
    lists = Shared[tuple[str, ...]]()
    first = lists.share(("billing", "sales"))
    again = lists.share(tuple(["billing", "sales"]))
    assert again is first and len(lists) == 1


def test_the_kept_copy_is_the_prepared_one() -> None:
    interned = Shared[str](sys.intern)
    own = "".join(["que", "ue-7"])  # a string of its own, as a decoder makes one
    assert interned.share(own) is sys.intern("queue-7")


def test_sharing_starts_afresh_when_a_feed_says_too_many_different_things() -> None:
    reasons = Shared[str](limit=2)
    first = reasons.share("r1")
    reasons.share("r2")
    reasons.share("r3")  # over the limit: the table starts afresh
    assert len(reasons) == 1
    assert reasons.share("".join(["r", "1"])) == first
    assert len(reasons) == 2
